"""Factories that build consistent object graphs for tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from conversations.models import Channel, Conversation, Direction, Message, SenderRule
from kommunikation.models import BusinessEntity, ContactPoint, Customer


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessEntity
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Marke {n}")
    slug = factory.Sequence(lambda n: f"marke-{n}")
    domains = factory.LazyAttribute(lambda o: [f"{o.slug}.example"])
    support_email = factory.LazyAttribute(lambda o: f"support@{o.slug}.example")
    noreply_email = factory.LazyAttribute(lambda o: f"noreply@{o.slug}.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"mitarbeiter{n}")
    first_name = "Erika"
    last_name = "Muster"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "geheim-123")

    @factory.post_generation
    def brands(self, create, extracted, **kwargs):
        if create and extracted:
            self.brands.set(extracted)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))
        self.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    number = factory.Sequence(lambda n: f"K-{10000 + n}")
    first_name = "Anna"
    last_name = factory.Sequence(lambda n: f"Müller{n}")
    gender = "f"

    @factory.post_generation
    def email(self, create, extracted, **kwargs):
        if create and extracted:
            ContactPoint.objects.create(customer=self, channel="email", value=extracted)


class SupplierFactory(CustomerFactory):
    kind = "supplier"
    is_company = True
    company_name = factory.Sequence(lambda n: f"Lieferant {n} GmbH")


class ContactPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    channel = "email"
    value = factory.Sequence(lambda n: f"kontakt{n}@kunde.example")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    brand = factory.SubFactory(BrandFactory)
    subject = factory.Sequence(lambda n: f"Anfrage {n}")
    subject_key = factory.LazyAttribute(lambda o: o.subject.casefold())
    counterpart = factory.Sequence(lambda n: f"absender{n}@extern.example")
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    channel = Channel.EMAIL
    direction = Direction.INBOUND
    sender_address = factory.LazyAttribute(lambda o: o.conversation.counterpart)
    subject = factory.LazyAttribute(lambda o: o.conversation.subject)
    text = "Guten Tag, ich habe eine Frage."
    message_id = factory.Sequence(lambda n: f"<m{n}@extern.example>")


class SenderRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SenderRule

    brand = factory.SubFactory(BrandFactory)
    kind = SenderRule.Kind.ADDRESS
    pattern = factory.Sequence(lambda n: f"news{n}@shop.example")
    classification = "newsletter"
