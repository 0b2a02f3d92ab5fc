"""First contact: the brand's own model proposes a classification for a sender never seen.

A multinomial naive Bayes over binary features (each feature counts once per mail):
the words of subject and text, the sender's domain and the words of its local part
(``rechnung@``, ``newsletter@``), whether the domain is a freemail one, and the bulk
headers (List-Id, List-Unsubscribe, Precedence, Auto-Submitted). It is trained on the
brand's own classified conversations (the first inbound message of each): those staff
classified, and the product's own once they stood a week of reviews uncorrected;
nothing downloaded, nothing shared between brands; kept as counts in
``SenderModel.data`` so that it can learn one classification at a time
(``learn_conversations``, called after staff classify a few) and be rebuilt from the
history every night (``train_brand``; the incremental counts do not forget a
conversation classified twice, the nightly rebuild does).

A proposal carries its reason in words a person can check ("ähnlich wie 12 als
Newsletter klassifizierte Mails: List-Id, „abmelden“"). It is shown pre-selected in the
classification dialog; it is applied on arrival only when the brand's Admin set a
confidence (``SenderModel.auto_apply_percent``, off by default) and only for the
classifications that name nobody (Intern, Newsletter, Werbung): which customer a
stranger is, words cannot tell.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.classify import is_freemail
from conversations.models import Classification, Conversation, Direction, Message, SenderModel
from kommunikation.models import BusinessEntity

MIN_DOCUMENTS = 10  # below this many classified mails the model proposes nothing
MIN_CONFIDENCE = 0.5  # a proposal must be at least more likely than all others together
TRAIN_LIMIT = 5_000  # the newest classified conversations a nightly training reads
REVIEW_DAYS = 7  # an automatic classification nobody corrected for this long is trusted
INCREMENTAL_LIMIT = 200  # larger classifications wait for the nightly training
TEXT_CHARS = 2_000  # the start of a mail says what it is; quoted history follows later
ALPHA = 1.0  # Laplace smoothing
AUTO_APPLICABLE = {Classification.INTERNAL, Classification.NEWSLETTER, Classification.ADVERTISING}

_WORD = re.compile(r"[a-zäöüß]{3,24}")
_LOCAL_WORD = re.compile(r"[a-z]{2,20}")
_BULK_HEADERS = {
    "list-id": "List-Id",
    "list-unsubscribe": "List-Unsubscribe",
    "auto-submitted": "Auto-Submitted",
    "precedence": "Precedence",
    "x-auto-response-suppress": "X-Auto-Response-Suppress",
}
# words that carry no class: the common German, Dutch and English filler
_STOP = frozenset(
    [
        "und", "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem",
        "einer", "ist", "sind", "war", "mit", "von", "für", "fur", "auf", "aus", "bei", "bis",
        "nach", "über", "zum", "zur", "sie", "ihr", "ihre", "ihnen", "wir", "uns", "unser",
        "unsere", "ich", "mir", "mich", "sich", "auch", "noch", "nur", "wie", "was", "wenn",
        "dass", "oder", "aber", "nicht", "kein", "keine", "hat", "haben", "wird", "werden",
        "kann", "können", "the", "and", "for", "you", "your", "with", "this", "that", "are",
        "from", "have", "het", "een", "van", "voor", "met", "zijn", "wij", "ons", "onze",
        "niet", "ook", "maar", "als", "dat", "die", "wat", "wordt", "kunt", "uw", "jij", "bij",
        "naar",
    ]
)  # fmt: skip


def features(*, sender: str, subject: str, text: str, headers: Sequence[Sequence[str]]) -> set[str]:
    """The features of one mail: ``w:`` words, ``l:`` local-part words, ``d:`` domain,
    ``h:`` bulk headers, ``freemail``."""
    found: set[str] = set()
    words = _WORD.findall(f"{subject}\n{text[:TEXT_CHARS]}".lower())
    found.update(f"w:{w}" for w in words if w not in _STOP)
    sender = sender.strip().lower()
    if "@" in sender:
        local, _at, domain = sender.rpartition("@")
        found.update(f"l:{w}" for w in _LOCAL_WORD.findall(local))
        if is_freemail(domain):
            found.add("freemail")
        elif domain:
            found.add(f"d:{domain}")
    names = {str(name).lower(): str(value).lower() for name, value in headers}
    for key in _BULK_HEADERS:
        value = names.get(key, "")
        if key == "auto-submitted" and value in ("", "no"):
            continue
        if key == "precedence" and value not in ("bulk", "list", "junk"):
            continue
        if value:
            found.add(f"h:{key}")
    return found


def _label(feature: str) -> str:
    kind, _sep, value = feature.partition(":")
    if kind == "h":
        return _BULK_HEADERS.get(value, value)
    if kind == "w":
        return f"„{value}“"
    if kind == "l":
        return _("Absender %(word)s@") % {"word": value}
    if kind == "d":
        return _("Domain %(domain)s") % {"domain": value}
    return _("Freemail-Adresse")


@dataclass(frozen=True)
class Proposal:
    classification: str
    confidence: float  # the model's posterior, 0..1
    reason: str

    @property
    def percent(self) -> int:
        return int(self.confidence * 100)


class NaiveBayes:
    """The counts: per classification the number of mails and of each feature in them."""

    def __init__(self, data: dict | None = None) -> None:
        data = data or {}
        self.docs: dict[str, int] = dict(data.get("docs", {}))
        self.counts: dict[str, dict[str, int]] = {
            c: dict(f) for c, f in data.get("counts", {}).items()
        }
        self._prepare()

    def _prepare(self) -> None:
        self.totals = {c: sum(f.values()) for c, f in self.counts.items()}
        self.vocabulary = len({f for counts in self.counts.values() for f in counts})

    def as_data(self) -> dict:
        return {"docs": self.docs, "counts": self.counts}

    @property
    def documents(self) -> int:
        return sum(self.docs.values())

    def add(self, classification: str, found: Iterable[str]) -> None:
        self.docs[classification] = self.docs.get(classification, 0) + 1
        counts = self.counts.setdefault(classification, {})
        for feature in found:
            counts[feature] = counts.get(feature, 0) + 1

    def finish(self) -> NaiveBayes:
        """After adding: drop features seen once in all (they cannot generalise)."""
        seen: dict[str, int] = {}
        for counts in self.counts.values():
            for feature, n in counts.items():
                seen[feature] = seen.get(feature, 0) + n
        for counts in self.counts.values():
            for feature in [f for f in counts if seen[f] < 2]:
                del counts[feature]
        self._prepare()
        return self

    def _log_likelihood(self, classification: str, feature: str) -> float:
        count = self.counts[classification].get(feature, 0)
        return math.log(
            (count + ALPHA) / (self.totals[classification] + ALPHA * (self.vocabulary + 1))
        )

    def predict(self, found: set[str]) -> Proposal | None:
        classes = [c for c, n in self.docs.items() if n and c in self.counts]
        if len(classes) < 2 or self.documents < MIN_DOCUMENTS:
            return None
        known = sorted(f for f in found if any(f in self.counts[c] for c in classes))
        if not known:
            return None
        total = self.documents
        scores = {
            c: math.log(self.docs[c] / total) + sum(self._log_likelihood(c, f) for f in known)
            for c in classes
        }
        best = max(scores, key=lambda c: scores[c])
        top = scores[best]
        confidence = 1 / sum(math.exp(s - top) for s in scores.values())
        if confidence < MIN_CONFIDENCE:
            return None
        return Proposal(best, confidence, self._reason(best, known, confidence))

    def _reason(self, best: str, known: list[str], confidence: float) -> str:
        others = [c for c in self.counts if c != best]

        def lift(feature: str) -> float:
            mine = self._log_likelihood(best, feature)
            return mine - max(self._log_likelihood(c, feature) for c in others)

        strongest = sorted(
            (f for f in known if self.counts[best].get(f, 0) >= 2 and lift(f) > 0),
            key=lambda f: (-lift(f), f),
        )[:3]
        label = Classification(best).label
        if not strongest:
            return _("ähnlich wie die als %(label)s klassifizierten Mails (%(percent)d %%)") % {
                "label": label,
                "percent": int(confidence * 100),
            }
        similar = max(self.counts[best][f] for f in strongest)
        return _(
            "ähnlich wie %(count)d als %(label)s klassifizierte Mails: %(features)s "
            "(%(percent)d %%)"
        ) % {
            "count": similar,
            "label": label,
            "features": ", ".join(_label(f) for f in strongest),
            "percent": int(confidence * 100),
        }


def message_features(message: Message) -> set[str]:
    return features(
        sender=message.sender_address,
        subject=message.subject,
        text=message.text,
        headers=message.headers,
    )


def _first_inbound(conversation_ids: Sequence[int]) -> dict[int, set[str]]:
    """conversation id -> the features of its first inbound message."""
    found: dict[int, set[str]] = {}
    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids, direction=Direction.INBOUND)
        .order_by("conversation_id", "created_at", "id")
        .values_list("conversation_id", "sender_address", "subject", "text", "headers")
    )
    for conversation_id, sender, subject, text, headers in rows.iterator(chunk_size=500):
        if conversation_id not in found:
            found[conversation_id] = features(
                sender=sender, subject=subject, text=text, headers=headers
            )
    return found


def _staff_classified(brand: BusinessEntity):
    return Conversation.objects.filter(brand=brand, classified_automatically=False).exclude(
        classification=""
    )


def _trainable(brand: BusinessEntity, now):
    """What staff classified, and what the product classified and staff left standing for
    a week of reviews (the seed's weekly review): without the latter the model would
    never see a newsletter, which the bulk headers file on arrival and nobody touches."""
    return (
        Conversation.objects.filter(brand=brand)
        .exclude(classification="")
        .filter(
            Q(classified_automatically=False)
            | Q(created_at__lt=now - dt.timedelta(days=REVIEW_DAYS))
        )
    )


@transaction.atomic
def train_brand(brand: BusinessEntity) -> SenderModel:
    """Rebuild the brand's model from the newest classified conversations (``_trainable``)."""
    rows = list(
        _trainable(brand, timezone.now())
        .order_by("-last_message_at", "-id")
        .values_list("id", "classification")[:TRAIN_LIMIT]
    )
    by_id = dict(rows)
    model = NaiveBayes()
    for conversation_id, found in _first_inbound(list(by_id)).items():
        model.add(by_id[conversation_id], found)
    model.finish()
    row, _created = SenderModel.objects.select_for_update().get_or_create(brand=brand)
    row.data = model.as_data()
    row.documents = model.documents
    row.trained_at = timezone.now()
    row.save(update_fields=["data", "documents", "trained_at"])
    return row


def train_all() -> int:
    """The nightly training of every brand's model; returns how many brands were trained."""
    brands = list(BusinessEntity.objects.order_by("pk"))
    for brand in brands:
        train_brand(brand)
    return len(brands)


def learn_conversations(*, brand_id: int, conversation_ids: Sequence[int]) -> int:
    """Add a few conversations staff just classified to the brand's model at once."""
    if not conversation_ids or len(conversation_ids) > INCREMENTAL_LIMIT:
        return 0
    classes = dict(
        _staff_classified(BusinessEntity(pk=brand_id))
        .filter(pk__in=conversation_ids)
        .values_list("id", "classification")
    )
    found = _first_inbound(list(classes))
    if not found:
        return 0
    with transaction.atomic():
        row, _created = SenderModel.objects.select_for_update().get_or_create(brand_id=brand_id)
        model = NaiveBayes(row.data)
        for conversation_id, features_of in found.items():
            model.add(classes[conversation_id], features_of)
        row.data = model.as_data()
        row.documents = model.documents
        row.save(update_fields=["data", "documents"])
    return len(found)


class BrandModels:
    """The brands' models, read once per ingest run (one query per brand)."""

    def __init__(self) -> None:
        self._models: dict[int, tuple[NaiveBayes | None, int | None]] = {}

    def _get(self, brand: BusinessEntity) -> tuple[NaiveBayes | None, int | None]:
        if brand.pk not in self._models:
            row = SenderModel.objects.filter(brand=brand).first()
            if row is None or not row.documents:
                self._models[brand.pk] = (None, row.auto_apply_percent if row else None)
            else:
                self._models[brand.pk] = (NaiveBayes(row.data), row.auto_apply_percent)
        return self._models[brand.pk]

    def propose(self, brand: BusinessEntity, found: set[str]) -> Proposal | None:
        model, _threshold = self._get(brand)
        return model.predict(found) if model else None

    def applies(self, brand: BusinessEntity, proposal: Proposal) -> bool:
        """Whether the brand's Admin lets this proposal be applied on arrival."""
        _model, threshold = self._get(brand)
        return (
            threshold is not None
            and proposal.classification in AUTO_APPLICABLE
            and proposal.confidence * 100 >= threshold
        )
