"""Demo data: the inbox of a German SMB with the five brands of the ChargeCars seed.

``seed_demo(conversations=600, seed=42)`` creates (or reuses) the five brands with
their addresses, mailboxes and sender rules, a few staff members per brand,
customers and suppliers with contact points, and conversations across every
classification: email threads with replies and internal notes, WhatsApp chats,
newsletters, cold acquisition, and a share left unclassified for the morning triage.

Everything is computed in Python from one ``random.Random(seed)`` and written with
``bulk_create`` in batches: no per-row ``save()``, no signals. The same seed on an
empty database gives the same data (only the timestamps move with "now"), and
200,000 conversations take minutes, which makes this the data set for benchmarks.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from conversations.models import (
    Attachment,
    Channel,
    Classification,
    ClassificationChange,
    Conversation,
    Direction,
    Mailbox,
    Message,
    Priority,
    SenderRule,
    Status,
    StatusChange,
)
from conversations.threading import normalize_subject
from kommunikation.contact import format_phone
from kommunikation.models import BusinessEntity, ContactPoint, Customer
from kommunikation.roles import AGENT, TEAM_LEAD

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = 86_400

# --- the brands (seed 002: ChargeCars V2 communication workflow) ------------------------

BRANDS = [
    {
        "slug": "chargecars",
        "name": "ChargeCars",
        "legal_name": "ChargeCars B.V.",
        "domains": ["chargecars.nl"],
        "support_email": "support@chargecars.nl",
        "sales_email": "verkoop@chargecars.nl",
        "admin_email": "admin@chargecars.nl",
        "noreply_email": "noreply@chargecars.nl",
        "whatsapp_number": "+31612345678",
        "sms_sender_id": "ChargeCars",
        "primary_color": "#0b6e4f",
        "weight": 30,
    },
    {
        "slug": "laderthuis",
        "name": "LaderThuis.nl",
        "legal_name": "LaderThuis.nl",
        "domains": ["laderthuis.nl"],
        "support_email": "support@laderthuis.nl",
        "sales_email": "info@laderthuis.nl",
        "admin_email": "admin@laderthuis.nl",
        "noreply_email": "noreply@laderthuis.nl",
        "whatsapp_number": "+31612345679",
        "sms_sender_id": "LaderThuis",
        "primary_color": "#e06c00",
        "weight": 25,
    },
    {
        "slug": "meterkastthuis",
        "name": "MeterKastThuis.nl",
        "legal_name": "MeterKastThuis.nl",
        "domains": ["meterkastthuis.nl"],
        "support_email": "support@meterkastthuis.nl",
        "sales_email": "info@meterkastthuis.nl",
        "admin_email": "admin@meterkastthuis.nl",
        "noreply_email": "noreply@meterkastthuis.nl",
        "whatsapp_number": "",
        "sms_sender_id": "MeterKast",
        "primary_color": "#3b4cca",
        "weight": 15,
    },
    {
        "slug": "zaptecshop",
        "name": "ZaptecShop.nl",
        "legal_name": "ZaptecShop.nl",
        "domains": ["zaptecshop.nl"],
        "support_email": "support@zaptecshop.nl",
        "sales_email": "bestellen@zaptecshop.nl",
        "admin_email": "admin@zaptecshop.nl",
        "noreply_email": "noreply@zaptecshop.nl",
        "whatsapp_number": "+31612345680",
        "sms_sender_id": "ZaptecShop",
        "primary_color": "#c8102e",
        "weight": 20,
    },
    {
        "slug": "ratioshop",
        "name": "RatioShop.nl",
        "legal_name": "RatioShop.nl",
        "domains": ["ratioshop.nl"],
        "support_email": "support@ratioshop.nl",
        "sales_email": "verkoop@ratioshop.nl",
        "admin_email": "admin@ratioshop.nl",
        "noreply_email": "noreply@ratioshop.nl",
        "whatsapp_number": "",
        "sms_sender_id": "RatioShop",
        "primary_color": "#5a2d82",
        "weight": 10,
    },
]

# --- names, places ------------------------------------------------------------------------

FEMALE = [
    "Anna", "Maria", "Julia", "Laura", "Lea", "Sarah", "Lena", "Katharina", "Sophie", "Lisa",
    "Hannah", "Johanna", "Claudia", "Sabine", "Petra", "Andrea", "Stefanie", "Nicole",
    "Susanne", "Birgit", "Monika", "Ursula", "Renate", "Ingrid", "Karin", "Gabriele", "Heike",
    "Christina", "Jana", "Jessica", "Melanie", "Sandra", "Kerstin", "Tanja", "Daniela", "Anja",
    "Silke", "Franziska", "Charlotte", "Emilia", "Mia", "Marie", "Jördis", "Bärbel"
]  # fmt: skip
MALE = [
    "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jürgen", "Peter",
    "Klaus", "Wolfgang", "Uwe", "Martin", "Jan", "Tobias", "Alexander", "Sebastian", "Daniel",
    "Matthias", "Florian", "Lukas", "Jonas", "Felix", "Maximilian", "Tim", "Philipp", "Dirk",
    "Holger", "Rainer", "Bernd", "Torsten", "Sven", "Jörg", "Günter", "Horst", "Dieter",
    "Björn", "Sören", "Hans-Peter", "Karl-Heinz", "Ömer", "Niklas"
]  # fmt: skip
LAST = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang",
    "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller",
    "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke",
    "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
    "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel",
    "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn",
    "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold",
    "Wolff", "Pfeiffer", "Gärtner", "Büttner", "Yılmaz", "Kowalski", "Nowak", "Öztürk",
    "Dąbrowski"
]  # fmt: skip
CITIES = [  # (PLZ, Ort, Vorwahl)
    ("10115", "Berlin", "30"), ("10245", "Berlin", "30"), ("20095", "Hamburg", "40"),
    ("22767", "Hamburg", "40"), ("80331", "München", "89"), ("81675", "München", "89"),
    ("50667", "Köln", "221"), ("60311", "Frankfurt am Main", "69"), ("70173", "Stuttgart", "711"),
    ("40213", "Düsseldorf", "211"), ("44135", "Dortmund", "231"), ("45127", "Essen", "201"),
    ("04109", "Leipzig", "341"), ("28195", "Bremen", "421"), ("01067", "Dresden", "351"),
    ("30159", "Hannover", "511"), ("90402", "Nürnberg", "911"), ("47051", "Duisburg", "203"),
    ("44787", "Bochum", "234"), ("42103", "Wuppertal", "202"), ("33602", "Bielefeld", "521"),
    ("53111", "Bonn", "228"), ("48143", "Münster", "251"), ("76133", "Karlsruhe", "721"),
    ("68159", "Mannheim", "621"), ("86150", "Augsburg", "821"), ("65183", "Wiesbaden", "611"),
    ("41061", "Mönchengladbach", "2161"), ("38100", "Braunschweig", "531"),
    ("24103", "Kiel", "431"), ("52062", "Aachen", "241"), ("06108", "Halle (Saale)", "345"),
    ("39104", "Magdeburg", "391"), ("79098", "Freiburg im Breisgau", "761"),
    ("47798", "Krefeld", "2151"), ("55116", "Mainz", "6131"), ("23552", "Lübeck", "451"),
    ("99084", "Erfurt", "361"), ("18055", "Rostock", "381"), ("34117", "Kassel", "561"),
    ("49074", "Osnabrück", "541"), ("26122", "Oldenburg", "441"), ("46045", "Oberhausen", "208"),
    ("93047", "Regensburg", "941"), ("97070", "Würzburg", "931"), ("89073", "Ulm", "731"),
    ("48431", "Rheine", "5971"), ("47533", "Kleve", "2821"), ("46395", "Bocholt", "2871"),
    ("41460", "Neuss", "2131"),
]  # fmt: skip
STREETS = [
    "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
    "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Schillerstraße",
    "Goethestraße", "Mühlenweg", "Am Sportplatz", "Jahnstraße", "Amselweg", "Friedhofstraße",
    "Rosenstraße", "Wiesenweg", "Buchenweg", "Lessingstraße", "Mozartstraße", "Feldstraße",
    "Eichendorffstraße", "Kastanienallee", "Am Mühlbach", "Königsallee", "Schloßstraße",
    "Heinrich-Heine-Straße", "Poststraße", "Marktplatz", "Fröbelstraße", "Grüner Weg",
    "Talstraße", "Industriestraße", "Gewerbering", "Im Wiesengrund", "Zur Alten Ziegelei"
]  # fmt: skip
MAIL_PROVIDERS = ["gmx.de", "web.de", "t-online.de", "gmail.com", "gmx.net", "outlook.de",
                  "posteo.de", "freenet.de", "icloud.com", "mail.de"]  # fmt: skip
SEGMENTS = ["Privatkunde", "Privatkunde", "Privatkunde", "Gewerbe", "Hausverwaltung", "Flotte"]

COMPANY_PATTERNS = [
    "Elektro {last} GmbH",
    "Hausverwaltung {last} & Söhne KG",
    "Autohaus {last} GmbH & Co. KG",
    "{last} Haustechnik GmbH",
    "Bäckerei {last} e.K.",
    "Zahnarztpraxis Dr. {last}",
    "Wohnungsbaugenossenschaft {city} eG",
    "{last} & {last2} Steuerberatung PartG mbB",
    "Gasthof Zur Linde, Inh. {first} {last}",
    "Spedition {last} GmbH",
    "{last} Immobilien GmbH",
    "Solartechnik {last} GmbH",
    "Tischlerei {last} GmbH",
    "Pflegedienst {last} gGmbH",
    "Stadtwerke {city} GmbH",
]
SUPPLIER_PATTERNS = [
    ("{last} Elektrogroßhandel GmbH", "Großhandel"),
    ("Kabel & Leitungen {city} GmbH", "Material"),
    ("Zählertechnik {last} GmbH", "Messtechnik"),
    ("{last} Logistik GmbH & Co. KG", "Logistik"),
    ("Wallbox-Distribution {last} GmbH", "Hardware"),
    ("{last} Montageservice GmbH", "Montage"),
    ("Druckerei {last} KG", "Drucksachen"),
    ("IT-Service {last} GmbH", "IT"),
]
NEWSLETTERS = [  # (name, address, list-id)
    ("Elektropraxis Newsletter", "newsletter@elektropraxis-news.de", "elektropraxis-news.de"),
    ("E-Mobilität Aktuell", "redaktion@emobilitaet-aktuell.de", "emobilitaet-aktuell.de"),
    ("Großhandel Nord Angebote", "angebote@grosshandel-nord.de", "grosshandel-nord.de"),
    ("Handwerkskammer Info", "info@hwk-newsletter.de", "hwk-newsletter.de"),
    ("Solar & Speicher Magazin", "news@solarspeicher-magazin.de", "solarspeicher-magazin.de"),
]
COLD_SENDERS = [
    ("Kevin Brauer | TopRank Online-Marketing", "k.brauer@toprank-online.de"),
    ("Branchenbuch Deutschland", "eintrag@branchenbuch-deutschland24.de"),
    ("Lisa Hartwig – LeadBoost GmbH", "lisa.hartwig@leadboost.de"),
    ("Personalvermittlung Schneller & Partner", "kontakt@schneller-partner-personal.de"),
    ("Leasing-Angebote Firmenwagen", "angebot@firmenwagen-leasing-direkt.de"),
]
PRODUCTS = ["Zaptec Go 11 kW", "Zaptec Pro", "Easee Charge Lite", "ABL eMH1", "Alfen Eve Single",
            "Heidelberg Energy Control", "Wallbox Pulsar Plus", "go-e Charger Gemini"]  # fmt: skip
CARS = ["VW ID.4", "Tesla Model Y", "Škoda Enyaq", "Hyundai Ioniq 5", "BMW iX1", "Renault Mégane E-Tech",
        "Kia EV6", "Audi Q4 e-tron", "Mercedes EQA", "Fiat 500e"]  # fmt: skip

# --- texts per classification -------------------------------------------------------------
# Placeholders: {order} {invoice} {quote} {date} {time} {product} {car} {city} {brand}
# {amount} {kw} {first} {last} {year}. "att" names an attachment: (direction, filename, title).

CUSTOMER_SCENARIOS = [
    {
        "subject": "Anfrage Wallbox-Installation in {city}",
        "open": "wir haben uns einen {car} bestellt und möchten zu Hause eine Wallbox installieren lassen. "
        "Die Garage ist etwa 12 Meter vom Zählerschrank entfernt. Können Sie uns ein Angebot für eine "
        "{product} inklusive Installation machen? Wie lange ist aktuell die Wartezeit?",
        "reply": [
            "vielen Dank für Ihre Anfrage. Gern erstellen wir Ihnen ein Angebot. Damit wir die Installation "
            "richtig einschätzen können, schicken Sie uns bitte ein Foto Ihres Zählerschranks und der Garage. "
            "Die Wartezeit für einen Installationstermin beträgt derzeit etwa drei Wochen.",
            "anbei erhalten Sie unser Angebot {quote} über {amount} inklusive Montage und Inbetriebnahme. "
            "Das Angebot ist 30 Tage gültig.",
        ],
        "follow": [
            "danke für die schnelle Rückmeldung. Die Fotos vom Zählerschrank hänge ich an. "
            "Im Zählerschrank ist noch Platz für einen weiteren Sicherungsautomaten.",
            "das Angebot passt für uns. Wie geht es jetzt weiter, brauchen Sie noch eine Anzahlung?",
        ],
        "note": [
            "Zählerschrank sieht alt aus, evtl. Zählerschrankerneuerung nötig. Bitte vor Termin mit Technik klären.",
            "Kunde hat telefonisch nachgefragt, Angebot kommt heute noch raus.",
        ],
        "att": ("out", "Angebot_{quote}.pdf", "Angebot {quote}"),
        "priority": "normal",
    },
    {
        "subject": "Terminverschiebung Installation am {date}",
        "open": "leider muss ich den Installationstermin am {date} um {time} Uhr absagen, ich bin an "
        "dem Tag beruflich unterwegs. Wäre ein Termin in der Woche danach möglich? Am liebsten vormittags.",
        "reply": [
            "kein Problem, wir haben den Termin storniert. Wir können Ihnen alternativ den Dienstag oder "
            "Donnerstag der Folgewoche ab 8:00 Uhr anbieten. Welcher Tag passt Ihnen besser?",
            "wir haben Ihren neuen Termin eingetragen. Unser Monteur meldet sich am Vortag telefonisch.",
        ],
        "follow": ["Donnerstag passt super, vielen Dank!", "Prima, dann bis Donnerstag."],
        "note": ["Termin in der Tourenplanung umgebucht (KW {kw}).", "Monteur informiert."],
        "att": None,
        "priority": "normal",
    },
    {
        "subject": "Frage zur Rechnung {invoice}",
        "open": "in der Rechnung {invoice} wird eine Anfahrtspauschale berechnet, die im Angebot nicht "
        "enthalten war. Können Sie das bitte prüfen und mir eine korrigierte Rechnung schicken?",
        "reply": [
            "Sie haben recht, die Anfahrtspauschale war im Angebot bereits enthalten. Wir haben die Rechnung "
            "korrigiert; die neue Rechnung finden Sie im Anhang.",
            "wir prüfen das mit unserer Buchhaltung und melden uns spätestens morgen bei Ihnen.",
        ],
        "follow": [
            "Vielen Dank, dann überweise ich den Betrag diese Woche.",
            "Gibt es schon etwas Neues zu meiner Rechnung?",
        ],  # fmt: skip
        "note": [
            "Gutschrift in sevDesk angelegt, korrigierte Rechnung verschickt.",
            "@Buchhaltung: bitte Anfahrtspauschale prüfen, Angebot lag bei {amount}.",
        ],  # fmt: skip
        "att": ("out", "Rechnung_{invoice}.pdf", "Rechnung {invoice} (korrigiert)"),
        "priority": "normal",
    },
    {
        "subject": "Reklamation: {product} lädt nicht mehr",
        "open": "seit gestern lädt unsere {product} nicht mehr. Die LED blinkt rot und das Auto meldet "
        "einen Ladefehler. Ein Neustart über die Sicherung hat nichts gebracht. Die Wallbox wurde erst vor "
        "drei Monaten von Ihnen installiert (Auftrag {order}). Bitte melden Sie sich dringend.",
        "reply": [
            "das tut uns leid. Können Sie uns bitte ein Foto der LED-Anzeige und die Seriennummer vom "
            "Typenschild schicken? Dann prüfen wir, ob wir das per Fernwartung lösen können.",
            "wir haben ein Firmware-Update aufgespielt und die Wallbox neu gestartet. Können Sie bitte "
            "prüfen, ob das Laden jetzt wieder funktioniert?",
        ],
        "follow": [
            "Hier die Fotos und die Seriennummer. Die LED blinkt weiterhin rot.",
            "Jetzt funktioniert es wieder, vielen Dank für die schnelle Hilfe!",
        ],  # fmt: skip
        "note": [
            "Fehlercode E42 – Fehlerstromschutz. Monteur muss vor Ort, Garantiefall.",
            "Mit Hersteller-Support telefoniert, Tauschgerät ist bestellt.",
        ],  # fmt: skip
        "att": ("in", "Kaufbeleg_{order}.pdf", "Kaufbeleg Auftrag {order}"),
        "priority": "high",
    },
    {
        "subject": "Wo bleibt meine Bestellung {order}?",
        "open": "ich habe vor zwei Wochen eine {product} bestellt (Bestellnummer {order}), habe aber noch "
        "keine Versandbestätigung bekommen. Können Sie mir sagen, wann die Lieferung kommt?",
        "reply": [
            "Ihre Bestellung {order} wurde heute an DHL übergeben. Die Sendungsnummer erhalten Sie in einer "
            "separaten E-Mail. Die Zustellung erfolgt voraussichtlich in zwei Werktagen.",
            "der Hersteller hat leider Lieferverzug. Wir rechnen mit dem Wareneingang in KW {kw}.",
        ],
        "follow": [
            "Danke für die Info!",
            "Das ist ärgerlich. Kann ich die Bestellung noch stornieren?",
        ],
        "note": ["Lieferverzug beim Großhändler, Ware kommt KW {kw}."],
        "att": None,
        "priority": "normal",
    },
    {
        "subject": "Förderung und Anmeldung beim Netzbetreiber",
        "open": "übernehmen Sie auch die Anmeldung der Wallbox beim Netzbetreiber? Und gibt es aktuell "
        "noch eine Förderung für private Ladepunkte in {city}?",
        "reply": [
            "ja, die Anmeldung beim Netzbetreiber übernehmen wir für Sie, das ist im Installationspreis "
            "enthalten. Eine Bundesförderung gibt es derzeit nicht, manche Kommunen fördern aber noch.",
        ],
        "follow": ["Super, dann hätte ich gern ein Angebot."],
        "note": ["Netzbetreiber-Formular vorbereitet."],
        "att": None,
        "priority": "low",
    },
]

SUPPLIER_SCENARIOS = [
    {
        "subject": "Lieferavis zu Ihrer Bestellung {order}",
        "open": "Ihre Bestellung {order} ({product}, 12 Stück) wurde heute versandt und wird voraussichtlich "
        "am {date} zwischen 8 und 12 Uhr angeliefert. Bitte sorgen Sie für eine Annahme vor Ort.",
        "reply": ["vielen Dank, die Annahme ist organisiert."],
        "follow": ["Die Lieferung verschiebt sich leider um einen Tag."],
        "note": ["Lager informiert, Anlieferung Tor 2."],
        "att": ("in", "Lieferschein_{order}.pdf", "Lieferschein {order}"),
        "priority": "normal",
    },
    {
        "subject": "Rechnung {invoice}",
        "open": "anbei erhalten Sie unsere Rechnung {invoice} über {amount}. Zahlbar innerhalb von 14 Tagen "
        "ohne Abzug. Bei Zahlung innerhalb von 7 Tagen gewähren wir 2 % Skonto.",
        "reply": ["die Position 3 wurde doppelt berechnet. Bitte senden Sie uns eine Gutschrift."],
        "follow": ["Sie haben recht, die Gutschrift ist unterwegs."],
        "note": ["An Buchhaltung weitergeleitet, Skontofrist {date}."],
        "att": ("in", "Rechnung_{invoice}.pdf", "Rechnung {invoice}"),
        "priority": "normal",
    },
    {
        "subject": "Neue Preisliste {year} – gültig ab {date}",
        "open": "zum {date} passen wir unsere Preise an. Die neue Preisliste finden Sie im Anhang. "
        "Bestellungen, die bis zum Stichtag eingehen, berechnen wir noch zu den alten Konditionen.",
        "reply": ["danke für die Info. Gilt unser Projektrabatt weiterhin?"],
        "follow": ["Ja, der Projektrabatt von 8 % bleibt bestehen."],
        "note": ["Preise im Angebotstool bis Monatsende aktualisieren."],
        "att": ("in", "Preisliste_{year}.pdf", "Preisliste {year}"),
        "priority": "low",
    },
    {
        "subject": "Auftragsbestätigung {order}",
        "open": "wir bestätigen Ihren Auftrag {order} über {amount}. Liefertermin: KW {kw}.",
        "reply": ["bitte liefern Sie direkt an die Baustelle in {city}."],
        "follow": ["Lieferadresse ist geändert."],
        "note": ["Auftrag in der Warenwirtschaft angelegt."],
        "att": None,
        "priority": "normal",
    },
]

INTERNAL_SCENARIOS = [
    ("Urlaubsvertretung KW {kw}", "ich bin in KW {kw} im Urlaub. Kannst du in der Zeit meine offenen "
     "Vorgänge im Support übernehmen? Die Übergabe-Liste lege ich dir in den Teams-Ordner."),
    ("Monteurplanung nächste Woche", "für nächste Woche sind 14 Installationen geplant, zwei davon in "
     "{city}. Bitte prüft, ob alle Kunden ihre Fotos vom Zählerschrank geschickt haben."),
    ("Protokoll Teammeeting {date}", "anbei die Stichpunkte aus dem Teammeeting: neue Textbausteine für "
     "Terminbestätigungen, Rückstau bei Reklamationen abbauen, Schulung {product} am Freitag."),
    ("Lagerbestand {product} niedrig", "wir haben nur noch 4 Stück {product} auf Lager. Sollen wir "
     "nachbestellen oder auf die neue Lieferung in KW {kw} warten?"),
]  # fmt: skip

NEWSLETTER_SUBJECTS = [
    "Neu im Sortiment: {product} jetzt lieferbar",
    "Ihr Wochenüberblick E-Mobilität – KW {kw}",
    "Nur bis Freitag: 15 % auf Installationsmaterial",
    "Einladung zum Webinar: Lastmanagement in Mehrfamilienhäusern",
    "Neue Normen für Ladeinfrastruktur {year} – das müssen Sie wissen",
]
COLD_SUBJECTS = [
    "Mehr Anfragen für {brand} – kostenloses Erstgespräch?",
    "Ihr Eintrag im Branchenbuch läuft ab",
    "SEO-Analyse für {domain}: 23 Fehler gefunden",
    "Fachkräfte für Ihr Unternehmen – Elektroniker ab sofort verfügbar",
    "Firmenwagen-Leasing ab 199 € netto",
]
COLD_BODIES = [
    "ich bin auf Ihr Unternehmen aufmerksam geworden und habe gesehen, dass Ihre Website bei Google "
    "kaum gefunden wird. Wir helfen Handwerksbetrieben, jeden Monat 30 % mehr Anfragen zu bekommen. "
    "Haben Sie diese Woche 15 Minuten für ein unverbindliches Gespräch?",
    "Ihr Firmeneintrag im Branchenbuch Deutschland muss verlängert werden. Bitte bestätigen Sie die "
    "Daten bis zum {date}, sonst wird Ihr Eintrag deaktiviert.",
]
WHATSAPP_IN = [
    "Hallo, kommt der Monteur heute noch? 🙂",
    "Guten Morgen! Ist die Wallbox schon verschickt?",
    "Die App zeigt „Ladevorgang unterbrochen“ an, was kann ich tun?",
    "Danke, hat geklappt 👍",
    "Können wir den Termin auf nächste Woche schieben?",
    "Hier das Foto vom Zählerschrank",
    "Wie lange dauert die Installation ungefähr?",
    "Ok, bis morgen",
    "Muss ich zu Hause sein oder reicht es, wenn die Garage offen ist?",
]
WHATSAPP_OUT = [
    "Hallo {first}, der Monteur ist gegen 14 Uhr bei Ihnen.",
    "Guten Morgen! Ja, die Sendung ist unterwegs, Sie sollten heute noch eine Mail von DHL bekommen.",
    "Bitte einmal die Sicherung für 30 Sekunden ausschalten und wieder einschalten.",
    "Gern geschehen! Schönen Tag noch.",
    "Klar, wir melden uns gleich mit einem neuen Termin.",
    "Die Installation dauert in der Regel 3 bis 4 Stunden.",
    "Es reicht, wenn die Garage und der Zählerschrank zugänglich sind.",
]
UNCLASSIFIED_SUBJECTS = [
    "Anfrage",
    "Wallbox",
    "Rückruf erbeten",
    "Frage zu Ihrem Angebot",
    "Kontaktformular: Nachricht von {first} {last}",
    "Installation Mehrfamilienhaus",
    "Kooperationsanfrage",
    "AW: Ihre Anfrage",
]
UNCLASSIFIED_BODIES = [
    "Guten Tag, bitte rufen Sie mich zurück wegen einer Wallbox für unser Mehrfamilienhaus in {city}.",
    "Hallo, ich habe eine Frage zu Ihrem Angebot. Ist die Anfahrt im Preis enthalten?",
    "Sehr geehrte Damen und Herren, wir sind ein Installationsbetrieb aus {city} und suchen "
    "Partner für die Montage von Ladestationen. Besteht Interesse an einer Zusammenarbeit?",
    "Hallo, meine Nachbarin hat bei Ihnen eine {product} gekauft. Was kostet das bei mir?",
]

# the chance that a scenario with a document actually carries it (about 9 % of all conversations)
ATTACHMENT_CHANCE = 0.32


@dataclass
class DemoSummary:
    brands: int = 0
    staff: int = 0
    customers: int = 0
    suppliers: int = 0
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.brands} Marken, {self.staff} Mitarbeitende, {self.customers} Kunden, "
            f"{self.suppliers} Lieferanten, {self.conversations} Konversationen, "
            f"{self.messages} Nachrichten, {self.attachments} Anhänge in {self.seconds:.1f} s"
        )


# --- small helpers --------------------------------------------------------------------------

_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                        "Ü": "Ue", "ı": "i", "ą": "a", "é": "e", "Š": "S", "š": "s", " ": "",
                        "&": "", ",": "", "(": "", ")": "", "'": ""})  # fmt: skip


_ASCII_WORDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                              "Ü": "Ue", "ı": "i", "ą": "a"})  # fmt: skip


def ascii_slug(value: str) -> str:
    return value.translate(_ASCII).lower().replace(".", "")


def snippet(text: str) -> str:
    """The inbox preview: the body without the salutation line and quoted text."""
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith(">")
    ]
    if len(lines) > 1 and lines[0].endswith(","):
        lines = lines[1:]
    return " ".join(" ".join(lines).split())[:200]


_LEGAL_FORMS = {"gmbh", "co", "kg", "ek", "eg", "partg", "mbb", "ggmbh", "inh", "zur", "dr", "und"}


def company_domain(company: str) -> str:
    """elektro-schneider.de for "Elektro Schneider GmbH": the name without its legal form."""
    words = re.split(r"[^a-z0-9]+", company.split(",")[0].translate(_ASCII_WORDS).lower())
    kept = [w for w in words if w and w not in _LEGAL_FORMS]
    return "-".join(kept[:3]) + ".de"


def german_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _pdf_escape(line: str) -> bytes:
    raw = line.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def tiny_pdf(lines: list[str]) -> bytes:
    """A valid one-page A4 PDF (Helvetica, WinAnsi for umlauts) with the given lines."""
    text = (
        b"BT /F1 11 Tf 14 TL 56 780 Td "
        + b" ".join(b"(" + _pdf_escape(line) + b") Tj T*" for line in lines)
        + b" ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def store_attachment_bytes(data: bytes) -> tuple[str, str]:
    """Content-addressed like the ingest code: attachments/<sha[:2]>/<sha>; stored once."""
    sha = hashlib.sha256(data).hexdigest()
    name = f"attachments/{sha[:2]}/{sha}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return sha, name


@dataclass
class Person:
    """A customer or supplier as the generator needs it, before and after insert."""

    customer: Customer
    name: str
    email: str
    phone: str
    salutation: str
    signature: str
    id: int = 0


@dataclass
class BrandData:
    brand: BusinessEntity
    mailbox_support: Mailbox
    agents: list = field(default_factory=list)
    lead: object = None
    customers: list[Person] = field(default_factory=list)
    suppliers: list[Person] = field(default_factory=list)


# --- the generator ---------------------------------------------------------------------------


class DemoGenerator:
    def __init__(
        self,
        *,
        seed: int,
        offset: int = 0,
        batch_size: int = 2000,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.rng = random.Random(f"kundenkommunikation-demo:{seed}:{offset}")
        self.seed = seed
        self.offset = offset
        self.batch_size = batch_size
        self.progress = progress or (lambda text: None)
        self.now = timezone.now().replace(microsecond=0)
        self.today = timezone.localdate()
        self.summary = DemoSummary()
        self.used_emails: set[str] = set()

    # -- brands, staff, mailboxes, rules --

    def setup_brands(self) -> list[BrandData]:
        result = []
        User = get_user_model()
        groups = {g.name: g for g in Group.objects.filter(name__in=[AGENT, TEAM_LEAD])}
        staff_rng = random.Random(f"kundenkommunikation-staff:{self.seed}")
        for spec in BRANDS:
            values = {k: v for k, v in spec.items() if k not in ("slug", "weight")}
            brand, _created = BusinessEntity.objects.get_or_create(
                slug=spec["slug"], defaults=values
            )
            support, _created = Mailbox.objects.get_or_create(
                brand=brand, name="Support", defaults={"address": brand.support_email}
            )
            Mailbox.objects.get_or_create(
                brand=brand, name="Vertrieb", defaults={"address": brand.sales_email}
            )
            data = BrandData(brand=brand, mailbox_support=support)
            names: set[str] = set()
            for index in range(4):
                username = ""
                while not username or username in names:
                    female = staff_rng.random() < 0.5
                    first = staff_rng.choice(FEMALE if female else MALE)
                    last = staff_rng.choice(LAST)
                    username = f"{ascii_slug(first)}.{ascii_slug(last)}.{spec['slug'][:4]}"
                names.add(username)
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={
                        "first_name": first,
                        "last_name": last,
                        "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{brand.domains[0]}",
                        "is_staff": True,
                    },
                )
                if created:
                    user.set_unusable_password()  # seeded staff cannot log in; demo_setup prints the one login
                    user.save(update_fields=["password"])
                role = TEAM_LEAD if index == 0 else AGENT
                if role in groups:
                    user.groups.add(groups[role])
                user.brands.add(brand)
                if index == 0:
                    data.lead = user
                else:
                    data.agents.append(user)
            rules = [
                SenderRule(
                    brand=brand,
                    kind=SenderRule.Kind.DOMAIN,
                    pattern=list_id,
                    classification=Classification.NEWSLETTER,
                )
                for _name, _address, list_id in NEWSLETTERS[:3]
            ]
            rules.append(
                SenderRule(
                    brand=brand,
                    kind=SenderRule.Kind.ADDRESS,
                    pattern=COLD_SENDERS[1][1],
                    classification=Classification.ADVERTISING,
                )
            )
            SenderRule.objects.bulk_create(rules, ignore_conflicts=True)
            result.append(data)
        self.summary.brands = len(result)
        self.summary.staff = sum(1 + len(d.agents) for d in result)
        return result

    # -- customers and suppliers --

    def _address(self) -> tuple[str, str, str, str]:
        rng = self.rng
        plz, city, area = rng.choice(CITIES)
        street = f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(['', '', '', 'a', 'b'])}"
        return street, plz, city, area

    def _unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 2
        while email in self.used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.used_emails.add(email)
        return email

    def _mobile(self) -> str:
        rng = self.rng
        return f"+49{rng.choice(['151', '152', '157', '160', '162', '170', '171', '172', '175', '176', '177', '178', '179'])}{rng.randint(1000000, 99999999)}"

    def _person(self, brand: BusinessEntity, number: int, *, kind: str) -> Person:
        rng = self.rng
        street, plz, city, area = self._address()
        female = rng.random() < 0.5
        first = rng.choice(FEMALE if female else MALE)
        last = rng.choice(LAST)
        title = "Dr." if rng.random() < 0.05 else ""
        informal = kind == "customer" and rng.random() < 0.1
        is_company = False
        company = ""
        segment = ""
        if kind == "supplier":
            pattern, segment = rng.choice(SUPPLIER_PATTERNS)
            company = pattern.format(last=last, city=city)
            is_company = True
        elif rng.random() < 0.3:
            company = rng.choice(COMPANY_PATTERNS).format(
                last=last, last2=rng.choice(LAST), first=first, city=city
            )
            is_company = True
            segment = rng.choice(["Gewerbe", "Hausverwaltung", "Flotte"])
        else:
            segment = rng.choice(SEGMENTS[:3])
        if is_company:
            domain = company_domain(company)
            local = rng.choice(
                ["info", f"{ascii_slug(first)}.{ascii_slug(last)}", "buchhaltung", "kontakt"]
            )
            email = self._unique_email(local, domain)
        else:
            local = rng.choice(
                [f"{ascii_slug(first)}.{ascii_slug(last)}", f"{ascii_slug(first)[0]}.{ascii_slug(last)}",
                 f"{ascii_slug(last)}{rng.randint(60, 99)}", f"{ascii_slug(first)}{ascii_slug(last)}"]
            )  # fmt: skip
            email = self._unique_email(local, rng.choice(MAIL_PROVIDERS))
        phone = self._mobile() if rng.random() < 0.7 else f"+49{area}{rng.randint(100000, 9999999)}"
        birthday = None
        if not is_company and rng.random() < 0.6:
            birthday = date(rng.randint(1942, 2004), rng.randint(1, 12), rng.randint(1, 28))
        since = self.today - timedelta(days=rng.randint(20, 6 * 365))
        gender = "f" if female else "m"
        customer = Customer(
            brand=brand,
            number=f"{'L' if kind == 'supplier' else 'K'}-{number}",
            kind=kind,
            is_company=is_company,
            company_name=company,
            gender=gender,
            title=title,
            first_name=first,
            last_name=last,
            informal=informal,
            birthday=birthday,
            customer_since=since,
            segment=segment,
            vip=rng.random() < 0.03,
            sevdesk_id=str(4_000_000 + number) if rng.random() < 0.5 else "",
            street=street,
            postal_code=plz,
            city=city,
        )
        full = " ".join(p for p in (title, first, last) if p)
        if informal:
            salutation = f"Hallo {first}"
        else:
            salutation = f"Guten Tag {'Frau' if female else 'Herr'} {' '.join(p for p in (title, last) if p)}"
        signature = f"{full}\n{company + chr(10) if company else ''}{street}\n{plz} {city}\nTel. {format_phone(phone)}"
        return Person(
            customer=customer,
            name=full,
            email=email,
            phone=phone,
            salutation=salutation,
            signature=signature,
        )

    def create_people(self, brands: list[BrandData], conversations: int) -> None:
        total_weight = sum(b["weight"] for b in BRANDS)
        number = 10_000 + self.offset * 7 + Customer.objects.count()
        for data, spec in zip(brands, BRANDS, strict=True):
            n_customers = max(8, conversations * spec["weight"] // total_weight // 3)
            n_suppliers = min(60, max(4, conversations * spec["weight"] // total_weight // 400 + 4))
            for _ in range(n_customers):
                number += 1
                data.customers.append(self._person(data.brand, number, kind="customer"))
            for _ in range(n_suppliers):
                number += 1
                data.suppliers.append(self._person(data.brand, number, kind="supplier"))
        people = [p for d in brands for p in (*d.customers, *d.suppliers)]
        for start in range(0, len(people), self.batch_size):
            chunk = people[start : start + self.batch_size]
            created = Customer.objects.bulk_create([p.customer for p in chunk])
            points = []
            for person, customer in zip(chunk, created, strict=True):
                person.id = customer.pk
                points.append(
                    ContactPoint(
                        customer_id=customer.pk,
                        channel="email",
                        value=person.email,
                        type="work" if customer.is_company else "private",
                        verified=True,
                    )
                )
                points.append(
                    ContactPoint(
                        customer_id=customer.pk,
                        channel="phone",
                        value=person.phone,
                        type="mobile" if person.phone.startswith("+491") else "work",
                    )
                )
            ContactPoint.objects.bulk_create(points)
        self.summary.customers = sum(len(d.customers) for d in brands)
        self.summary.suppliers = sum(len(d.suppliers) for d in brands)
        self.progress(f"{len(people)} Kunden und Lieferanten angelegt")

    # -- conversations --

    def _context(self, person: Person | None, brand: BusinessEntity) -> dict[str, str]:
        rng = self.rng
        future = self.today + timedelta(days=rng.randint(2, 30))
        customer = person.customer if person else None
        year = self.today.year
        return {
            "year": str(year),
            "order": f"B-{year}-{rng.randint(10000, 99999)}",
            "invoice": f"RE-{year}-{rng.randint(1000, 9999)}",
            "quote": f"AN-{year}-{rng.randint(1000, 9999)}",
            "date": german_date(future),
            "time": rng.choice(["8:00", "9:30", "10:00", "13:00", "14:30"]),
            "product": rng.choice(PRODUCTS),
            "car": rng.choice(CARS),
            "city": customer.city if customer else rng.choice(CITIES)[1],
            "brand": brand.name,
            "domain": brand.domains[0],
            "amount": f"{rng.randint(400, 3200):,}".replace(",", ".")
            + f",{rng.choice(['00', '50', '90'])} €",
            "kw": str(rng.randint(1, 52)),
            "first": customer.first_name if customer else rng.choice(FEMALE),
            "last": customer.last_name if customer else rng.choice(LAST),
        }

    def _times(self, count: int) -> list[datetime]:
        """Message times of one thread, oldest first; 45 % end within the last 7 days."""
        rng = self.rng
        age = rng.uniform(0.01, 7) * DAY if rng.random() < 0.45 else rng.uniform(7.2, 60) * DAY
        last = self.now - timedelta(seconds=age)
        local = last.astimezone(BERLIN)
        if not 7 <= local.hour < 20:  # people write in working hours, mostly
            local = local.replace(hour=rng.randint(7, 19))
            last = min(local.astimezone(UTC), self.now - timedelta(minutes=5))
        times = [last]
        for _ in range(count - 1):
            times.append(times[-1] - timedelta(minutes=rng.randint(12, 2 * 24 * 60)))
        return [t.replace(microsecond=0) for t in reversed(times)]

    def _plan(self, data: BrandData) -> dict:
        """One conversation: kind and who talks, as plain data."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.42:
            kind = "customer"
        elif roll < 0.52:
            kind = "supplier"
        elif roll < 0.58:
            kind = "internal"
        elif roll < 0.70:
            kind = "newsletter"
        elif roll < 0.75:
            kind = "advertising"
        elif roll < 0.87:
            kind = "unclassified"
        else:
            kind = "whatsapp"
        if kind == "whatsapp" and not data.brand.whatsapp_number:
            kind = "customer"
        shown = self.__dict__.setdefault("_chats_shown", set())
        if data.brand.whatsapp_number and data.brand.pk not in shown:
            kind = "whatsapp"  # every brand with a number shows a chat, however small the demo
        if kind == "whatsapp":
            shown.add(data.brand.pk)
        return {"kind": kind}

    def build_conversation(self, data: BrandData, index: int) -> tuple[Conversation, list[dict]]:
        rng = self.rng
        brand = data.brand
        kind = self._plan(data)["kind"]
        agents = data.agents
        person: Person | None = None
        messages: list[dict] = []
        conv = Conversation(brand=brand, mailbox=data.mailbox_support, channel=Channel.EMAIL)
        domain = brand.domains[0]

        def mid(n: int) -> str:
            return f"<demo.{self.seed}.{self.offset + index}.{n}@{domain}>"

        if kind in ("customer", "supplier"):
            person = rng.choice(data.customers if kind == "customer" else data.suppliers)
            ctx = self._context(person, brand)
            scenario = rng.choice(CUSTOMER_SCENARIOS if kind == "customer" else SUPPLIER_SCENARIOS)
            subject = scenario["subject"].format(**ctx)
            length = (
                rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 7, 9])
                if kind == "customer"
                else rng.choice([1, 1, 2, 3])
            )
            times = self._times(length)
            attachment_at = -1
            if scenario["att"] and rng.random() < ATTACHMENT_CHANCE:
                direction = scenario["att"][0]
                attachment_at = 0 if direction == "in" else (1 if length > 1 else -1)
            agent = rng.choice(agents)
            inbound_count = outbound_count = 0
            for n, at in enumerate(times):
                att = None
                if n == attachment_at:
                    att = (
                        scenario["att"][1].format(**ctx),
                        [scenario["att"][2].format(**ctx), person.customer.company_name or person.name,
                         f"{person.customer.street}, {person.customer.postal_code} {person.customer.city}",
                         f"Datum: {german_date(at.astimezone(BERLIN).date())}", f"Betrag: {ctx['amount']}",
                         brand.legal_name],
                    )  # fmt: skip
                if n > 0 and rng.random() < 0.22:
                    messages.append(
                        self._note(
                            rng.choice(scenario["note"]).format(**ctx),
                            data,
                            at - timedelta(minutes=3),
                        )
                    )
                if n % 2 == 0:
                    body = (
                        scenario["open"]
                        if n == 0
                        else scenario["follow"][inbound_count % len(scenario["follow"])]
                    )
                    greeting = (
                        "Guten Tag," if kind == "customer" else "Sehr geehrte Damen und Herren,"
                    )
                    if kind == "supplier" and n > 0:
                        greeting = f"Hallo {agent.first_name} {agent.last_name},"
                    prefix = "" if n == 0 else "AW: "
                    inbound_count += 1
                    messages.append({
                        "kind": "in", "at": at, "subject": prefix + subject,
                        "text": f"{greeting}\n\n{body.format(**ctx)}\n\nMit freundlichen Grüßen\n{person.signature}",
                        "from": (person.name if not person.customer.is_company or kind == "customer" else person.customer.company_name, person.email),
                        "to": [brand.support_email if kind == "customer" else brand.admin_email],
                        "att": att,
                    })  # fmt: skip
                else:
                    body = scenario["reply"][outbound_count % len(scenario["reply"])]
                    outbound_count += 1
                    previous = messages[-1]["text"] if messages else ""
                    quoted = "\n".join("> " + line for line in previous.splitlines()[:6])
                    messages.append({
                        "kind": "out", "at": at, "subject": "Re: " + subject, "agent": agent,
                        "text": f"{person.salutation},\n\n{body.format(**ctx)}\n\nMit freundlichen Grüßen\n"
                        f"{agent.first_name} {agent.last_name}\nKundenservice {brand.name}\n\n"
                        f"Am {german_date(times[n - 1].astimezone(BERLIN).date())} schrieb {person.name}:\n{quoted}",
                        "from": (f"{agent.first_name} {agent.last_name} | {brand.name}",
                                 brand.support_email if kind == "customer" else brand.admin_email),
                        "to": [person.email],
                        "att": att,
                    })  # fmt: skip
            conv.customer_id = person.id
            conv.counterpart = person.email
            conv.counterpart_name = (
                person.name if kind == "customer" else (person.customer.company_name or person.name)
            )
            conv.classification = kind
            conv.related_record = ctx["order"] if "{order}" in scenario["subject"] else (
                ctx["invoice"] if "{invoice}" in scenario["subject"] else ""
            )  # fmt: skip
            conv.priority = scenario["priority"]
        elif kind == "internal":
            colleague = rng.choice(agents + [data.lead])
            other = rng.choice(agents)
            ctx = self._context(None, brand)
            subject_t, body = rng.choice(INTERNAL_SCENARIOS)
            subject = subject_t.format(**ctx)
            times = self._times(rng.choice([1, 2, 3]))
            for n, at in enumerate(times):
                author = colleague if n % 2 == 0 else other
                text = (f"Hallo {other.first_name if n % 2 == 0 else colleague.first_name},\n\n"
                        + (body.format(**ctx) if n == 0 else rng.choice(["Passt, mache ich.", "Danke, ist erledigt.",
                                                                        "Kurze Rückfrage: bis wann brauchst du das?"]))
                        + f"\n\nViele Grüße\n{author.first_name}")  # fmt: skip
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": text, "from": (f"{author.first_name} {author.last_name}", author.email),
                                 "to": [brand.support_email], "att": None})  # fmt: skip
            conv.counterpart = colleague.email
            conv.counterpart_name = f"{colleague.first_name} {colleague.last_name}"
            conv.classification = Classification.INTERNAL
        elif kind == "newsletter":
            name, address, list_id = rng.choice(NEWSLETTERS)
            ctx = self._context(None, brand)
            subject = rng.choice(NEWSLETTER_SUBJECTS).format(**ctx)
            times = self._times(1)
            text = (f"{subject}\n\nLiebe Leserinnen und Leser,\n\ndiese Woche im Überblick: neue Produkte, "
                    f"Termine und Praxistipps rund um Ladeinfrastruktur. Mehr dazu auf unserer Website.\n\n"
                    f"Sie erhalten diesen Newsletter, weil Sie sich mit {brand.sales_email} angemeldet haben. "
                    f"Abmelden: https://{list_id}/abmelden")  # fmt: skip
            messages.append({"kind": "in", "at": times[0], "subject": subject, "text": text,
                             "from": (name, address), "to": [brand.sales_email], "att": None,
                             "newsletter": list_id})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = name
            conv.classification = Classification.NEWSLETTER
            conv.priority = Priority.LOW
        elif kind == "advertising":
            name, address = rng.choice(COLD_SENDERS)
            ctx = self._context(None, brand)
            subject = rng.choice(COLD_SUBJECTS).format(**ctx)
            times = self._times(rng.choice([1, 1, 1, 2]))
            for n, at in enumerate(times):
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": f"Sehr geehrte Damen und Herren,\n\n{rng.choice(COLD_BODIES).format(**ctx)}"
                                 f"\n\nBeste Grüße\n{name}", "from": (name, address),
                                 "to": [brand.sales_email], "att": None})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = name
            conv.classification = Classification.ADVERTISING
            conv.priority = Priority.LOW
        elif kind == "unclassified":
            ctx = self._context(None, brand)
            first, last = ctx["first"], ctx["last"]
            address = self._unique_email(
                f"{ascii_slug(first)}.{ascii_slug(last)}", rng.choice(MAIL_PROVIDERS)
            )
            subject = rng.choice(UNCLASSIFIED_SUBJECTS).format(**ctx)
            times = self._times(rng.choice([1, 1, 1, 2]))
            for n, at in enumerate(times):
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": f"{rng.choice(UNCLASSIFIED_BODIES).format(**ctx)}\n\nViele Grüße\n{first} {last}",
                                 "from": (f"{first} {last}", address), "to": [brand.support_email], "att": None})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = f"{first} {last}"
        else:  # whatsapp
            known = rng.random() < 0.8
            person = rng.choice(data.customers)
            ctx = self._context(person, brand)
            phone = person.phone if known else self._mobile()
            times = self._times(rng.randint(2, 10))
            agent = rng.choice(agents)
            for n, at in enumerate(times):
                inbound = n % 2 == 0 or rng.random() < 0.3
                text = rng.choice(WHATSAPP_IN if inbound else WHATSAPP_OUT).format(**ctx)
                messages.append({"kind": "wa-in" if inbound else "wa-out", "at": at, "text": text,
                                 "phone": phone, "agent": agent, "from": (person.name if known else "", phone),
                                 "att": None})  # fmt: skip
            conv.channel = Channel.WHATSAPP
            conv.counterpart = phone
            conv.counterpart_name = person.name if known else ""
            subject = ""
            if known:
                conv.customer_id = person.id
                conv.classification = Classification.CUSTOMER

        conv.subject = subject
        conv.subject_key = normalize_subject(subject)
        self._finish(conv, messages, data, mid)
        return conv, messages

    def _note(self, text: str, data: BrandData, at: datetime) -> dict:
        return {
            "kind": "note",
            "at": at,
            "text": text,
            "agent": self.rng.choice(data.agents + [data.lead]),
        }

    def _finish(self, conv: Conversation, messages: list[dict], data: BrandData, mid) -> None:
        rng = self.rng
        messages.sort(key=lambda m: m["at"])
        refs: list[str] = []
        for n, m in enumerate(messages):
            if m["kind"] in ("in", "out"):
                m["message_id"] = mid(n)
                m["in_reply_to"] = refs[-1] if refs else ""
                m["references"] = " ".join(refs[-10:])
                refs.append(m["message_id"])
        real = [m for m in messages if m["kind"] != "note"]
        inbound = [m for m in real if m["kind"] in ("in", "wa-in")]
        last = real[-1]  # the snippet shows the last real message, not a note
        conv.created_at = messages[0]["at"]
        conv.last_message_at = messages[-1]["at"]
        conv.last_inbound_at = inbound[-1]["at"] if inbound else None
        conv.message_count = len(messages)
        conv.snippet = snippet(last["text"])
        recent = conv.last_message_at > self.now - timedelta(days=7)
        answered = real[-1]["kind"] in ("out", "wa-out")
        roll = rng.random()
        if conv.classification == "":
            conv.status = Status.OPEN
            conv.unread = roll < 0.75
        elif conv.classification in (Classification.NEWSLETTER, Classification.ADVERTISING):
            conv.status = Status.OPEN if recent and roll < 0.6 else Status.ARCHIVED
            conv.unread = conv.status == Status.OPEN and rng.random() < 0.7
        elif answered:
            conv.status = Status.PENDING if recent or roll < 0.3 else Status.CLOSED
            conv.unread = False
        else:
            if recent:
                conv.status = Status.OPEN
            else:
                conv.status = rng.choice(
                    [Status.OPEN, Status.CLOSED, Status.CLOSED, Status.ARCHIVED]
                )
            conv.unread = conv.status == Status.OPEN and rng.random() < (0.7 if recent else 0.25)
        if conv.priority == Priority.NORMAL:
            roll = rng.random()
            conv.priority = Priority.URGENT if roll < 0.04 else Priority.HIGH if roll < 0.15 else (
                Priority.LOW if roll < 0.25 else Priority.NORMAL
            )  # fmt: skip
        if conv.classification in ("customer", "supplier", "") and rng.random() < 0.6:
            conv.assignee = rng.choice(data.agents + [data.lead])
        if conv.last_inbound_at and not answered and conv.status in (Status.OPEN, Status.PENDING):
            # due only while the counterpart waits for us, as after ingestion
            hours = (
                settings.SLA_HOURS_WHATSAPP
                if conv.channel == Channel.WHATSAPP
                else settings.SLA_HOURS.get(conv.priority, 24)
            )
            conv.response_due_at = conv.last_inbound_at + timedelta(hours=hours)
        conv.classified_automatically = conv.classification in ("newsletter", "advertising") or (
            conv.classification in ("customer", "supplier", "internal") and rng.random() < 0.7
        )

    # -- rows --

    def _message_row(self, conv: Conversation, m: dict) -> Message:
        kind = m["kind"]
        at = m["at"]
        if kind == "note":
            agent = m["agent"]
            return Message(
                conversation_id=conv.pk, channel=Channel.NOTE, direction=Direction.OUTBOUND,
                is_internal_note=True, author=agent, sender_name=f"{agent.first_name} {agent.last_name}",
                text=m["text"], created_at=at,
            )  # fmt: skip
        if kind in ("wa-in", "wa-out"):
            inbound = kind == "wa-in"
            agent = m["agent"]
            return Message(
                conversation_id=conv.pk, channel=Channel.WHATSAPP,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                author=None if inbound else agent,
                sender_name=m["from"][0] if inbound else f"{agent.first_name} {agent.last_name}",
                sender_address=m["phone"] if inbound else conv.brand.whatsapp_number,
                to=[conv.brand.whatsapp_number if inbound else m["phone"]], text=m["text"],
                provider_id=f"wamid.demo{self.seed}x{conv.pk}x{at.timestamp():.0f}",
                status=Message.State.RECEIVED if inbound else Message.State.DELIVERED,
                sent_at=at, created_at=at,
            )  # fmt: skip
        inbound = kind == "in"
        name, address = m["from"]
        headers = [
            ["From", f"{name} <{address}>"],
            ["To", ", ".join(m["to"])],
            ["Subject", m["subject"]],
            ["Date", at.astimezone(BERLIN).strftime("%a, %d %b %Y %H:%M:%S %z")],
            ["Message-ID", m["message_id"]],
        ]
        if m.get("in_reply_to"):
            headers.append(["In-Reply-To", m["in_reply_to"]])
        html = ""
        if m.get("newsletter"):
            list_id = m["newsletter"]
            headers += [
                ["List-Id", f"<newsletter.{list_id}>"],
                [
                    "List-Unsubscribe",
                    f"<https://{list_id}/abmelden?u=demo>, <mailto:abmelden@{list_id}>",
                ],
                ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
                ["Precedence", "bulk"],
            ]
            paragraphs = "".join(f"<p>{line}</p>" for line in m["text"].split("\n\n"))
            html = (f'<div style="max-width:600px;font-family:Arial"><h1>{m["subject"]}</h1>'
                    f'<img data-remote-src="https://{list_id}/banner.png" alt="Banner">{paragraphs}'
                    f'<p><a href="https://{list_id}/abmelden">Abmelden</a></p></div>')  # fmt: skip
        return Message(
            conversation_id=conv.pk, channel=Channel.EMAIL,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            author=None if inbound else m["agent"], sender_name=name, sender_address=address,
            to=m["to"], subject=m["subject"], text=m["text"], html=html,
            has_remote_images=bool(html), headers=headers, message_id=m["message_id"],
            in_reply_to=m["in_reply_to"], references=m["references"],
            status=Message.State.RECEIVED if inbound else self.rng.choice(
                [Message.State.DELIVERED, Message.State.OPENED, Message.State.SENT]),
            sent_at=at, created_at=at,
        )  # fmt: skip

    def create_conversations(self, brands: list[BrandData], total: int) -> None:
        rng = self.rng
        weights = [spec["weight"] for spec in BRANDS]
        done = 0
        started = time.monotonic()
        while done < total:
            size = min(self.batch_size, total - done)
            built = []
            for i in range(size):
                data = rng.choices(brands, weights)[0]
                built.append(self.build_conversation(data, done + i))
            convs = Conversation.objects.bulk_create([c for c, _m in built])
            rows: list[Message] = []
            specs: list[dict] = []
            changes: list[ClassificationChange] = []
            for conv, messages in built:
                for m in messages:
                    rows.append(self._message_row(conv, m))
                    specs.append(m)
                if conv.classification:
                    auto = conv.classified_automatically
                    changes.append(
                        ClassificationChange(
                            conversation_id=conv.pk,
                            to_classification=conv.classification,
                            to_customer_id=conv.customer_id,
                            automatic=auto,
                            reason="Absenderregel (Domain)" if auto and conv.classification == "newsletter"
                            else ("bekannter Kontakt" if auto else ""),
                            changed_by=None if auto else conv.assignee,
                            changed_at=min(self.now, conv.created_at + timedelta(minutes=0 if auto else 47)),
                        )
                    )  # fmt: skip
            created = Message.objects.bulk_create(rows, batch_size=self.batch_size)
            attachments: list[Attachment] = []
            status_rows: list[StatusChange] = []
            for message, m in zip(created, specs, strict=True):
                if m.get("att"):
                    filename, lines = m["att"]
                    data = tiny_pdf(lines)
                    sha, name = store_attachment_bytes(data)
                    attachments.append(
                        Attachment(
                            message_id=message.pk, file=name, filename=filename,
                            content_type="application/pdf", size=len(data), sha256=sha,
                        )
                    )  # fmt: skip
                if message.direction == Direction.OUTBOUND and message.status:
                    status_rows.append(
                        StatusChange(message_id=message.pk, status="sent", at=m["at"])
                    )
                    if message.status in ("delivered", "opened"):
                        status_rows.append(
                            StatusChange(message_id=message.pk, status="delivered", at=m["at"] + timedelta(seconds=4))
                        )  # fmt: skip
            Attachment.objects.bulk_create(attachments, batch_size=self.batch_size)
            StatusChange.objects.bulk_create(status_rows, batch_size=self.batch_size)
            ClassificationChange.objects.bulk_create(changes, batch_size=self.batch_size)
            done += size
            self.summary.conversations += len(convs)
            self.summary.messages += len(created)
            self.summary.attachments += len(attachments)
            if done % (self.batch_size * 10) == 0 or done == total:
                rate = done / max(time.monotonic() - started, 0.001)
                self.progress(f"{done}/{total} Konversationen ({rate:.0f}/s)")


def seed_demo(
    *,
    conversations: int = 600,
    seed: int = 42,
    batch_size: int = 2000,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Create the demo data in one transaction; appends when conversations exist already."""
    started = time.monotonic()
    offset = Conversation.objects.count()
    generator = DemoGenerator(seed=seed, offset=offset, batch_size=batch_size, progress=progress)
    with transaction.atomic():
        brands = generator.setup_brands()
        generator.create_people(brands, conversations)
        generator.create_conversations(brands, conversations)
    generator.summary.seconds = time.monotonic() - started
    return generator.summary
