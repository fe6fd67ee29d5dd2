"""ID numbers at rest: encrypted, hashed with a key, masked."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError

from dealercrm.customers.id_numbers import (
    decrypt_id_number,
    hash_id_number,
    lookup_hash,
    protect_id_number,
)

ID = "11010519491231002X"


def test_protected_id_number_decrypts_to_the_normalised_number():
    stored = protect_id_number(" 11010519491231002x ")

    assert stored.encrypted and ID not in stored.encrypted
    assert decrypt_id_number(stored.encrypted) == ID
    assert stored.masked == "110105********002X"
    assert stored.hash == hash_id_number(ID)
    assert len(stored.hash) == 64


def test_equal_numbers_hash_equal_but_encrypt_differently():
    first, second = protect_id_number(ID), protect_id_number(ID.lower())

    assert first.hash == second.hash
    assert first.encrypted != second.encrypted  # Fernet uses a fresh IV each time


def test_the_hash_depends_on_the_key(settings):
    before = hash_id_number(ID)
    settings.SEARCH_HASH_KEY = "another-key"

    assert hash_id_number(ID) != before


def test_an_empty_number_gives_empty_columns_and_an_invalid_one_is_refused():
    assert protect_id_number("").as_fields() == {
        "id_number_encrypted": "",
        "id_number_hash": "",
        "id_number_masked": "",
    }
    with pytest.raises(ValidationError):
        protect_id_number("110105194912310021")


def test_lookup_hash_is_none_for_text_that_is_no_id_number():
    assert lookup_hash(ID.lower()) == hash_id_number(ID)
    assert lookup_hash("13812341234") is None


def test_keys_can_be_rotated_old_tokens_still_decrypt(settings):
    old_token = protect_id_number(ID).encrypted
    settings.FIELD_ENCRYPTION_KEY = (
        Fernet.generate_key().decode() + "," + settings.FIELD_ENCRYPTION_KEY
    )

    assert decrypt_id_number(old_token) == ID


def test_a_wrong_key_is_a_configuration_error_not_garbage(settings):
    token = protect_id_number(ID).encrypted
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()

    with pytest.raises(ImproperlyConfigured):
        decrypt_id_number(token)
    settings.FIELD_ENCRYPTION_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured):
        protect_id_number(ID)
