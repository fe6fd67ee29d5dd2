"""Search keys: one row per way a customer can be found, so every query is a B-tree range."""

from __future__ import annotations

from django.db import models

from dealercrm.core.tenancy import DealerOwnedModel


class KeyKind(models.IntegerChoices):
    """What a key holds. The query router picks kinds by the shape of what was typed."""

    NAME = 1  # the whole name, lower-case, no spaces: prefix search
    PINYIN = 2  # full pinyin, no spaces: zhangsan
    INITIALS = 3  # pinyin initials: zs
    PHONE = 4  # national significant number: 13812341234
    PHONE_TAIL = 5  # the same, reversed: a tail (尾号) becomes a prefix
    VIN = 6  # the VIN
    VIN_TAIL = 7  # the VIN reversed
    PLATE = 8  # the whole plate: prefix search
    LATIN_NAME = 9  # Latin name, lower-case, no spaces
    ID_HASH = 10  # keyed hash of the resident ID number (exact match only)
    NAME_INNER = 11  # every suffix of the name after its first character: substring search
    PLATE_INNER = 12  # every suffix of the plate after its first character (2+ characters)


class ByteOrderCharField(models.CharField):
    """A CharField compared byte by byte on every engine, so a prefix is one B-tree range.

    SQLite compares with BINARY already; PostgreSQL gets the "C" collation (a locale collation
    would neither order by code point nor let `term >= x AND term < x || U+10FFFF` use the index).
    """

    def db_parameters(self, connection):  # noqa: ANN001, ANN201
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class SearchKey(DealerOwnedModel):
    """A term under which a customer is found. Rebuilt whenever its source fields change.

    A derived index, so its three references have no database constraint (db_constraint=False):
    about fifteen keys per customer made the constraint checks the largest cost of a bulk load
    (PostgreSQL, 1.5 million keys: 12.4 s to insert, 20.6 s more to check the references at
    commit). Django's deletion still cascades to the keys (and protects the dealer), every
    writer derives the keys from the rows it has just written, and a search joins the customer,
    so a key can never show a customer that is gone.
    """

    dealer = models.ForeignKey(
        "core.Dealer",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Set for plate and VIN keys, so a result can say which car matched.
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    kind = models.PositiveSmallIntegerField(choices=KeyKind.choices)
    term = ByteOrderCharField(max_length=64)

    class Meta:
        indexes = [
            # Covering: a search reads the customer and vehicle ids of the keys it walks from the
            # index alone (an index-only scan on PostgreSQL once the table is vacuumed), not one
            # random table page per key. An OEM user's phone-tail search at 1,000,000
            # customers: 2.6 → 1.7 ms (docs/benchmarks.md).
            models.Index(
                fields=["dealer", "kind", "term", "customer", "vehicle"], name="searchkey_lookup"
            ),
            models.Index(fields=["dealer", "customer"], name="searchkey_customer"),
            models.Index(fields=["dealer", "vehicle"], name="searchkey_vehicle"),
        ]
