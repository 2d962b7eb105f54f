"""The scrubber's rules, in-process: every form a secret travels in, several secrets, the shortest secret."""

from __future__ import annotations

import base64
import json

import pytest

from cg_cli.output.scrub import MASK, Scrubber

# A secret whose encodings all differ: '@' and ' ' and '/' percent-encode, '"' and '\\' and 'é' JSON-escape.
SECRET = 'p@ss w/rd"\\é-9'
FORMS = {
    "plain": SECRET,
    "percent-encoded": "p%40ss%20w%2Frd%22%5C%C3%A9-9",
    "form-encoded": "p%40ss+w%2Frd%22%5C%C3%A9-9",
    "percent-encoded, slash kept": "p%40ss%20w/rd%22%5C%C3%A9-9",
    "JSON string": 'p@ss w/rd\\"\\\\\\u00e9-9',
    "base64": base64.b64encode(SECRET.encode()).decode(),
}


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_each_form_of_a_secret_is_masked_whole(form: str) -> None:
    assert Scrubber(SECRET)(f"echo <{FORMS[form]}> end") == f"echo <{MASK}> end"


def test_a_secret_echoed_inside_a_json_document_is_masked() -> None:
    echoed = json.dumps({"message": f"bad secret {SECRET}"})
    scrubbed = Scrubber(SECRET)(echoed)
    assert json.loads(scrubbed) == {"message": f"bad secret {MASK}"}


def test_a_basic_header_of_client_id_and_secret_is_masked() -> None:
    basic = base64.b64encode(f"my-client:{SECRET}".encode()).decode()
    assert Scrubber(SECRET, basic_user="my-client")(f"Authorization: Basic {basic}") == f"Authorization: Basic {MASK}"


def test_without_a_client_id_no_basic_form_is_made() -> None:
    basic = base64.b64encode(f"my-client:{SECRET}".encode()).decode()
    assert Scrubber(SECRET)(basic) == basic


def test_every_secret_given_is_masked_the_old_token_and_the_new() -> None:
    scrub = Scrubber("old-token-1234", "new-token-5678")
    assert scrub("was old-token-1234, now new-token-5678") == f"was {MASK}, now {MASK}"


def test_a_four_character_secret_is_masked_a_shorter_one_is_not() -> None:
    assert Scrubber("abcd")("x abcd y") == f"x {MASK} y"
    assert Scrubber("abc")("x abc y") == "x abc y"  # three characters would mask ordinary words


@pytest.mark.parametrize("secrets", [("abcd", "abcd-tail"), ("abcd", "AB-abcd"), ("AB-abcd", "abcd")])
def test_a_form_containing_another_is_masked_whole_not_in_part(secrets: tuple[str, str]) -> None:
    # The longer secret contains the shorter: masking the shorter first would leave part of the longer behind
    # (whichever sorts first by its characters).
    long = max(secrets, key=len)
    assert Scrubber(*secrets)(f"<{long}> <abcd>") == f"<{MASK}> <{MASK}>"


def test_empty_secrets_are_ignored_and_text_without_secrets_is_unchanged() -> None:
    assert Scrubber("", "abcd")("nothing here; abcd") == f"nothing here; {MASK}"
    assert Scrubber()("plain text") == "plain text"


def test_every_occurrence_is_masked() -> None:
    assert Scrubber("abcd")("abcd abcd") == f"{MASK} {MASK}"
