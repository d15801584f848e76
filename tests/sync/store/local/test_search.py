"""Full-text search: blind to accents and case, prefix as you type, typed text never syntax."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from sync.store.local.search import build_match, search_messages
from tests.sync.helpers import BASE_TS, add_account, inbound, outbound_echo

CORPUS = [
    # (number, provider id, text)
    ("loja", "m0", "Bom dia! Vocês têm açúcar mascavo?"),
    ("loja", "m1", "Temos sim, e o café especial chegou ontem."),
    ("loja", "m2", "Quero fazer duas encomendas para sábado"),
    ("loja", "m3", "CAFÉ COM LEITE E PÃO DE QUEIJO"),
    ("oficina", "m4", "The cake and coffee were great, thanks"),
    ("oficina", "m5", "Encomenda: troca de óleo, NEAR the station"),
    ("oficina", "m6", "preço: R$ 120,00 - pagamento via Pix"),
    ("loja", "m7", "Pão de queijo quentinho saindo agora"),
    ("oficina", "m8", ""),  # a sticker: no text, not indexed
]


@pytest.fixture
def corpus(cache: LocalCache) -> dict[str, object]:
    """Two numbers with the messages above, one second apart, in order."""
    numbers = {"loja": add_account(cache, "Loja"), "oficina": add_account(cache, "Oficina")}
    events = []
    for i, (number, pid, text) in enumerate(CORPUS):
        maker = outbound_echo if i % 3 == 1 else inbound
        events.append(
            maker(numbers[number], pid, text, ts=BASE_TS + i, phone=f"+55 11 9000{i}-0000")
        )
    apply_events(cache, events)
    ids = {pid: _id(cache, pid) for _, pid, _ in CORPUS}
    return {"numbers": numbers, "ids": ids}


def _id(cache: LocalCache, provider_id: str) -> str:
    return str(
        cache.conn.exec_driver_sql(
            "SELECT id FROM messages WHERE provider_message_id = ?", (provider_id,)
        ).scalar_one()
    )


def _found(cache: LocalCache, query: str, **kw: object) -> list[str]:
    """Provider ids of the hits, in result order."""
    hits = search_messages(cache, query, **kw)  # type: ignore[arg-type]
    by_id = {
        row[0]: row[1]
        for row in cache.conn.exec_driver_sql("SELECT id, provider_message_id FROM messages")
    }
    return [by_id[h.message_id] for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acucar", ["m0"]),
        ("açúcar", ["m0"]),
        ("AÇUCAR", ["m0"]),
        ("cafe", ["m3", "m1"]),
        ("CAFÉ", ["m3", "m1"]),
        ("encomend", ["m5", "m2"]),
        ("encomendas", ["m2"]),
        ("pao de queijo", ["m7", "m3"]),
        ("queijo pão", ["m7", "m3"]),
        ("cake coffee", ["m4"]),
        ("coffee cake", ["m4"]),
        ("120", ["m6"]),
        ("pix", ["m6"]),
        ("bom di", ["m0"]),
        ("nada disso", []),
    ],
)
def test_search_folds_case_and_accents_and_prefixes_the_last_word(
    cache: LocalCache, corpus: dict[str, object], query: str, expected: list[str]
) -> None:
    assert _found(cache, query) == expected


def test_only_the_last_word_is_a_prefix(cache: LocalCache, corpus: dict[str, object]) -> None:
    assert _found(cache, "encomend duas") == []
    assert _found(cache, "duas encomend") == ["m2"]


def test_hits_carry_what_the_results_list_shows(
    cache: LocalCache, corpus: dict[str, object]
) -> None:
    (hit,) = search_messages(cache, "mascavo")

    assert hit.text == "Bom dia! Vocês têm açúcar mascavo?"
    assert hit.customer_phone == "+55 11 90000-0000"
    assert hit.customer_name == "Ana"
    assert hit.timestamp_ms == int(BASE_TS * 1000)
    assert hit.direction.value == "in"
    assert hit.account_id == corpus["numbers"]["loja"]  # type: ignore[index]


def test_the_account_filter_keeps_one_number(cache: LocalCache, corpus: dict[str, object]) -> None:
    numbers: dict[str, int] = corpus["numbers"]  # type: ignore[assignment]

    assert _found(cache, "encomend", account_id=numbers["loja"]) == ["m2"]
    assert _found(cache, "encomend", account_id=numbers["oficina"]) == ["m5"]
    assert _found(cache, "cafe", account_id=numbers["oficina"]) == []
    assert _found(cache, "encomend", account_id=999) == []


def test_hits_come_newest_first_and_respect_the_limit(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(
        cache,
        [
            inbound(account, f"b{i}", f"bolo número {i}", ts=BASE_TS + i, phone=f"+55 11 9{i % 3}")
            for i in range(12)
        ],
    )

    assert _found(cache, "bolo") == [f"b{i}" for i in reversed(range(12))]
    assert _found(cache, "bolo", limit=3) == ["b11", "b10", "b9"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "**",
        "-",
        ":",
        "^",
        "(",
        ")",
        "()",
        "{}",
        "+",
        "'",
        "!",
        "@#$%",
        " ",
        "",
        "   \t\n",
        "—",
        "…",
        "?!",
        "\\",
        "%",
        "_",
        "__",
        "_*",
        "\x00",
    ],
)
def test_queries_without_words_find_nothing(
    cache: LocalCache, corpus: dict[str, object], query: str
) -> None:
    assert search_messages(cache, query) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"cafe', ["m3", "m1"]),
        ('cafe"', ["m3", "m1"]),
        ('"pao de" queijo', ["m7", "m3"]),
        ("cafe*", ["m3", "m1"]),
        ("caf*e", []),
        ("AND", ["m4"]),  # the English word, not the operator
        ("cafe AND leite", []),  # "and" is a word to find: m3 has none
        ("leite e cafe", ["m3"]),
        ("cafe OR pix", []),
        ("NOT cafe", []),
        ("cafe NOT leite", []),
        ("NEAR(cafe leite)", []),
        ("near", ["m5"]),
        ("NEAR(", ["m5"]),
        ("-cafe", ["m3", "m1"]),
        ("body:cafe", []),
        ("body : cafe", []),
        ("{body}: cafe", []),
        ("^cafe", ["m3", "m1"]),
        ("cafe + leite", ["m3"]),
        ("(cafe)", ["m3", "m1"]),
        ("R$ 120,00", ["m6"]),
        ("preço: r", ["m6"]),
        ("troca de óleo -", ["m5"]),
        ("'queijo'", ["m7", "m3"]),
    ],
)
def test_fts_syntax_in_user_text_is_plain_text(
    cache: LocalCache, corpus: dict[str, object], query: str, expected: list[str]
) -> None:
    assert _found(cache, query) == expected


def _fold(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.findall(r"[^\W_]+", stripped)


def _reference(query: str) -> list[str]:
    """What search must return, computed independently: every word present, the last a prefix."""
    words = _fold(query)
    if not words:
        return []
    hits = []
    for _, pid, text in reversed(CORPUS):  # newest first
        tokens = _fold(text)
        *whole, last = words
        if all(w in tokens for w in whole) and any(t.startswith(last) for t in tokens):
            hits.append(pid)
    return hits


# No "_": Python's \w keeps "a_b" as one word, which FTS5 then reads as the phrase "a b".
_SYNTAX = list("\"*-:^()+{}'.,;!? ")
_WORDS = ["AND", "OR", "NOT", "NEAR", "NEAR(", "body:", "cafe", "café", "pao", "pão", "queijo"]
_ALPHABET = st.sampled_from([*_SYNTAX, *_WORDS, "encomend", "acuc", "120", "de", "é"])


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=st.lists(_ALPHABET, max_size=6))
def test_any_typed_text_searches_as_plain_words(
    cache: LocalCache, corpus: dict[str, object], parts: list[str]
) -> None:
    query = "".join(parts)

    assert _found(cache, query) == _reference(query), build_match(query)


def test_build_match_quotes_every_word() -> None:
    assert build_match('cafe" OR "x') == '"cafe" "OR" "x"*'
    assert build_match("  ") is None
