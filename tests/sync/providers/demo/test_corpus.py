"""The demo workspace's content: profiles, the deterministic history, live customers."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import pickle
import random
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable

import pytest

from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.providers.demo.corpus import (
    PROFILES,
    TEMPLATE_KEYS,
    BusinessProfile,
    DemoConversation,
    DemoCustomer,
    DemoMessage,
    LiveCustomers,
    _fill,
    generate_history,
)

# 23 Nov 2025, 09:13:20 in São Paulo: a Sunday morning, so "today" has few messages yet.
NOW_MS = 1_763_900_000_000
DAY_MS = 86_400_000
SEED = 20261123
# The demo workspace's shape (sync/engine/demo_workspace.py): 3 numbers x 150 chats x <= 200.
DEMO_NUMBERS, DEMO_CONVERSATIONS, DEMO_MAX = 3, 150, 200


def plain(text: str) -> str:
    """Lowercase without accents, as the full-text index folds it ("açúcar" -> "acucar")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def history(profile: int, **overrides: int) -> list[DemoConversation]:
    arguments = {
        "seed": SEED,
        "conversations": DEMO_CONVERSATIONS,
        "max_messages": DEMO_MAX,
        "now_ms": NOW_MS,
    }
    arguments.update(overrides)
    return list(generate_history(profile, **arguments))


@pytest.fixture(scope="module")
def demo() -> dict[int, list[DemoConversation]]:
    """The demo workspace's history, made once for the module (about 45,000 messages)."""
    return {index: history(index) for index in range(DEMO_NUMBERS)}


def all_messages(conversations: Iterable[DemoConversation]) -> list[DemoMessage]:
    return [message for conversation in conversations for message in conversation.messages]


def demo_messages(demo: dict[int, list[DemoConversation]]) -> list[DemoMessage]:
    return [m for conversations in demo.values() for m in all_messages(conversations)]


# -- profiles ---------------------------------------------------------------------------------


def test_there_are_ten_distinct_businesses_on_sao_paulo_mobile_numbers() -> None:
    assert len(PROFILES) >= 10
    assert len({p.key for p in PROFILES}) == len(PROFILES)
    assert len({p.name for p in PROFILES}) == len(PROFILES)
    assert len({p.phone for p in PROFILES}) == len(PROFILES)
    assert [p.name for p in PROFILES[:3]] == [
        "Padaria Pão Dourado",
        "Oficina do Zé",
        "Loja Flor de Lis",
    ]
    for profile in PROFILES:
        assert re.fullmatch(r"\+55119\d{8}", profile.phone), profile.phone
        assert re.fullmatch(r"\+55 11 9\d{4}-\d{4}", profile.display_phone)
        assert profile.display_phone.replace(" ", "").replace("-", "") == profile.phone
        assert 0 < profile.english_share < 0.5
        assert profile.pt.topics and profile.en.topics and profile.products


def script_lines(profile: BusinessProfile, language: str) -> list[str]:
    """Every line of a profile's script in one language."""
    lines = profile.lines(language)
    texts: list[str] = []
    for topic in lines.topics:
        texts += [*topic.openers, *topic.replies]
        texts += [line for pair in topic.qa for line in pair]
    texts += [line for pair in lines.qa for line in pair]
    for opener, acks in lines.agent_openers:
        texts += [opener, *acks]
    for field in ("details", "acks", "closings", "agent_closings", "holds"):
        texts += getattr(lines, field)
    texts += [*lines.customer_photos, *lines.agent_photos]
    texts += [*lines.customer_videos, *lines.agent_videos]
    texts += [line for document in lines.documents for line in document]
    return texts


def test_every_line_fills_from_the_template_keys() -> None:
    """A placeholder typo would otherwise show up as a KeyError in the middle of the demo."""
    markers = {"@loc", "@audio"}
    for profile in PROFILES:
        allowed = set(TEMPLATE_KEYS) | {key for key, _, _ in profile.extras}
        for language in ("pt", "en"):
            for text in script_lines(profile, language):
                if text.startswith("@"):
                    assert text in markers, (profile.key, text)
                    continue
                keys = {name for _, name, _, _ in string.Formatter().parse(text) if name}
                assert keys <= allowed, (profile.key, language, text, keys - allowed)


def test_lines_are_filled_exactly_as_format_map_would() -> None:
    """The generator fills templates through compiled functions, for speed; same result."""
    for profile in PROFILES:
        context = {key: f"<{key}>" for key in TEMPLATE_KEYS}
        context |= {key: f"<{key}>" for key, _, _ in profile.extras}
        for language in ("pt", "en"):
            for text in script_lines(profile, language):
                assert _fill(text, context) == text.format_map(context)
    tricky = {"a": "1", "b": "2"}
    for text in ("{a}", "{a}{b}", "x{a}y{b}z{a}{b}!", "{{literal}} {a}", "no placeholder"):
        assert _fill(text, tricky) == text.format_map(tricky)
    with pytest.raises(KeyError):
        _fill("{missing}", tricky)


def test_the_first_profiles_have_the_words_the_search_tests_look_for() -> None:
    text = " ".join(
        line
        for profile in PROFILES[:3]
        for topic in profile.pt.topics
        for line in (*topic.openers, *topic.replies)
    )
    for word in ("açúcar", "café", "encomendas", "encomenda", "orçamento", "pão de queijo"):
        assert word in text


# -- history: shape ---------------------------------------------------------------------------


def test_the_same_arguments_give_the_same_history_whatever_the_global_random_state() -> None:
    random.seed(1)
    first = history(0, conversations=40, max_messages=60)
    random.seed(2)
    random.random()
    second = history(0, conversations=40, max_messages=60)
    assert first == second


def test_another_seed_or_number_gives_another_history() -> None:
    base = history(0, conversations=30, max_messages=60)
    assert history(0, conversations=30, max_messages=60, seed=SEED + 1) != base
    assert history(1, conversations=30, max_messages=60) != base


def test_the_generator_is_lazy() -> None:
    conversations = generate_history(
        0, seed=SEED, conversations=10**9, max_messages=50, now_ms=NOW_MS
    )
    first = next(conversations)
    assert isinstance(first, DemoConversation)


@pytest.mark.parametrize("profile", [-1, len(PROFILES)])
def test_an_unknown_profile_is_refused(profile: int) -> None:
    with pytest.raises(ValueError, match="no demo profile"):
        generate_history(profile, seed=1, conversations=1, max_messages=5, now_ms=NOW_MS)


def test_the_demo_shape_gives_about_45000_messages_in_skewed_chats(
    demo: dict[int, list[DemoConversation]],
) -> None:
    lengths = [len(c.messages) for conversations in demo.values() for c in conversations]
    assert len(lengths) == DEMO_NUMBERS * DEMO_CONVERSATIONS
    assert min(lengths) >= 1 and max(lengths) <= DEMO_MAX
    assert 42_000 <= sum(lengths) <= 48_000
    # Many short chats and some long ones, not a flat spread around the middle: the shortest
    # tenth of the range is the most common length.
    deciles = Counter(min(9, (n - 1) * 10 // DEMO_MAX) for n in lengths)
    assert deciles[0] == max(deciles.values())
    assert deciles[0] >= 0.2 * len(lengths)
    assert sum(n >= 0.8 * DEMO_MAX for n in lengths) >= 0.2 * len(lengths)


def test_the_benchmark_shape_averages_half_the_maximum() -> None:
    # 10 numbers x 2,000 chats x <= 100 gives about 1,000,000; a tenth of it checks the mean.
    total = sum(
        len(c.messages)
        for profile in range(10)
        for c in generate_history(
            profile, seed=7, conversations=200, max_messages=100, now_ms=NOW_MS
        )
    )
    assert 97_000 <= total <= 103_000


@pytest.mark.parametrize("max_messages", [1, 2, 3])
def test_tiny_maximums_still_give_well_formed_chats(max_messages: int) -> None:
    conversations = history(4, conversations=60, max_messages=max_messages)
    for conversation in conversations:
        assert 1 <= len(conversation.messages) <= max_messages
        assert conversation.messages[0].direction is Direction.IN or conversation.unread == 0


def test_timestamps_increase_stay_in_the_past_and_fall_in_opening_hours(
    demo: dict[int, list[DemoConversation]],
) -> None:
    oldest_allowed = NOW_MS - 120 * DAY_MS  # span_days defaults to 120
    for index, conversations in demo.items():
        low, high = PROFILES[index].open_hours
        in_hours = total = 0
        for conversation in conversations:
            stamps = [m.timestamp_ms for m in conversation.messages]
            assert all(a < b for a, b in itertools.pairwise(stamps))
            assert stamps[-1] < NOW_MS
            assert stamps[0] >= oldest_allowed
            for stamp in stamps:
                hour = (stamp - 3 * 3_600_000) % DAY_MS / 3_600_000
                in_hours += low - 1 <= hour <= high + 2
                total += 1
        # Sessions start in opening hours; only the tail of a late one or an impatient
        # customer's message falls outside.
        assert in_hours >= 0.95 * total


def test_long_chats_come_in_sessions_days_apart(
    demo: dict[int, list[DemoConversation]],
) -> None:
    long_chats = [c for c in demo[0] if len(c.messages) >= 100]
    assert long_chats
    for conversation in long_chats:
        days = {(m.timestamp_ms - 3 * 3_600_000) // DAY_MS for m in conversation.messages}
        assert len(days) >= 8
        gaps = [
            b.timestamp_ms - a.timestamp_ms for a, b in itertools.pairwise(conversation.messages)
        ]
        # Most messages follow the previous one within minutes: back-and-forth, not a drip.
        assert sorted(gaps)[len(gaps) // 2] < 15 * 60_000


def test_customers_usually_open_and_both_sides_talk(
    demo: dict[int, list[DemoConversation]],
) -> None:
    conversations = [c for cs in demo.values() for c in cs]
    opened_by_customer = sum(c.messages[0].direction is Direction.IN for c in conversations)
    assert opened_by_customer >= 0.9 * len(conversations)
    directions = Counter(m.direction for m in demo_messages(demo))
    assert 0.4 <= directions[Direction.IN] / sum(directions.values()) <= 0.6


def test_customer_phones_are_unique_and_plausible() -> None:
    conversations = history(9, conversations=2_000, max_messages=2)
    phones = [c.customer.phone for c in conversations]
    assert len(set(phones)) == len(phones)
    regions: Counter[str] = Counter()
    for customer in (c.customer for c in conversations):
        if customer.language == "pt":
            assert re.fullmatch(r"\+55[1-9][1-9]9[6-9]\d{7}", customer.phone), customer.phone
        else:
            assert customer.language == "en"
            assert re.fullmatch(
                r"\+(1\d{3}55501\d\d|447700900\d{3}|3519[1236]\d{7})", customer.phone
            )
            regions[customer.phone[:3]] += 1
    assert {"+1", "+44"} <= {key[:2] if key.startswith("+1") else key for key in regions} | {
        key[:3] for key in regions
    }
    assert any(key.startswith("+35") for key in regions)


def test_names_are_varied_brazilian_names_with_accents(
    demo: dict[int, list[DemoConversation]],
) -> None:
    customers = [c.customer for cs in demo.values() for c in cs]
    names = [c.name for c in customers if c.language == "pt"]
    assert len(set(names)) >= 0.8 * len(names)
    assert sum(name != plain(name).title() and not name.isascii() for name in names) >= 20
    assert sum(c.language == "en" for c in customers) >= 20


# -- history: content -------------------------------------------------------------------------


def test_the_words_people_search_for_are_frequent(
    demo: dict[int, list[DemoConversation]],
) -> None:
    texts = [m.text for m in demo_messages(demo)]
    folded: Counter[str] = Counter()
    for text in texts:
        words = re.findall(r"\w+", plain(text))
        folded.update(words)
        folded.update("encomend*" for word in words if word.startswith("encomend"))
    for word in ("acucar", "cafe", "encomendas", "encomenda", "orcamento", "encomend*"):
        assert folded[word] >= 25, (word, folded[word])
    raw = " ".join(texts)
    for word in ("açúcar", "café", "orçamento", "pão de queijo", "amanhã"):
        assert word in raw
    assert "Hi! Do you deliver today?" in texts or "Is the cake gluten-free?" in texts


def test_texts_are_filled_in_and_lively(demo: dict[int, list[DemoConversation]]) -> None:
    messages = demo_messages(demo)
    for message in messages:
        assert "{" not in message.text and "}" not in message.text, message.text
        assert not message.text.startswith("@"), message.text
        if message.type is MessageType.TEXT:
            assert message.text.strip() and message.media is None
    texts = [m.text for m in messages]
    assert len(set(texts)) >= 1_000
    emoji = sum(any(unicodedata.category(ch) == "So" for ch in text) for text in texts)
    assert emoji >= 0.2 * len(texts)


def test_english_customers_are_answered_in_english(
    demo: dict[int, list[DemoConversation]],
) -> None:
    english = [c for cs in demo.values() for c in cs if c.customer.language == "en"]
    portuguese_words = re.compile(r"\b(voce|voces|tudo bem|pra|entregamos|temos sim)\b")
    for conversation in english:
        for message in conversation.messages:
            assert not portuguese_words.search(plain(message.text)), message.text


def test_media_messages_carry_sensible_media(demo: dict[int, list[DemoConversation]]) -> None:
    messages = demo_messages(demo)
    kinds = Counter(m.type for m in messages)
    for kind in (MessageType.IMAGE, MessageType.DOCUMENT, MessageType.AUDIO, MessageType.LOCATION):
        assert kinds[kind] >= 20, kind
    assert kinds[MessageType.TEXT] >= 0.85 * len(messages)
    assert set(kinds) <= {
        MessageType.TEXT,
        MessageType.IMAGE,
        MessageType.DOCUMENT,
        MessageType.AUDIO,
        MessageType.LOCATION,
        MessageType.VIDEO,
    }
    for message in messages:
        media = message.media
        if message.type is MessageType.TEXT:
            continue
        assert media is not None
        if message.type is MessageType.IMAGE:
            assert media["mime_type"] == "image/jpeg" and media["filename"].endswith(".jpg")
            assert media["size"] > 0
        elif message.type is MessageType.VIDEO:
            assert media["mime_type"] == "video/mp4" and media["duration_s"] > 0
        elif message.type is MessageType.DOCUMENT:
            assert media["mime_type"] == "application/pdf"
            assert re.fullmatch(r"[a-z_]+(_\d+)?\.pdf", media["filename"]), media["filename"]
            assert media["size"] > 0
        elif message.type is MessageType.AUDIO:
            assert message.text == ""
            assert isinstance(media["duration_s"], int) and 1 <= media["duration_s"] <= 120
        else:
            assert message.type is MessageType.LOCATION
            assert -24.0 < media["latitude"] < -23.0 and -47.0 < media["longitude"] < -46.0
    documents = [m.media["filename"] for m in messages if m.media and "pages" in m.media]
    assert any(name.startswith("orcamento_") for name in documents)


def test_delivery_statuses(demo: dict[int, list[DemoConversation]]) -> None:
    messages = demo_messages(demo)
    outbound: Counter[DeliveryStatus] = Counter()
    for message in messages:
        if message.direction is Direction.IN:
            assert message.status is DeliveryStatus.RECEIVED and message.error is None
            continue
        outbound[message.status] += 1
        if message.status is DeliveryStatus.FAILED:
            assert message.error
        else:
            assert message.error is None
        if message.status is DeliveryStatus.PLAYED:
            assert message.type is MessageType.AUDIO
    total = sum(outbound.values())
    assert set(outbound) <= {
        DeliveryStatus.READ,
        DeliveryStatus.PLAYED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.SENT,
        DeliveryStatus.FAILED,
    }
    assert outbound[DeliveryStatus.READ] >= 0.9 * total
    assert outbound[DeliveryStatus.DELIVERED] > 0
    assert 0 < outbound[DeliveryStatus.FAILED] <= 0.01 * total


def test_an_answered_message_was_read(demo: dict[int, list[DemoConversation]]) -> None:
    for conversation in (c for cs in demo.values() for c in cs):
        seen_reply = False
        for message in reversed(conversation.messages):
            if message.direction is Direction.IN:
                seen_reply = True
            elif seen_reply:
                assert message.status in {
                    DeliveryStatus.READ,
                    DeliveryStatus.PLAYED,
                    DeliveryStatus.FAILED,
                }


def test_a_few_recent_conversations_wait_unread(demo: dict[int, list[DemoConversation]]) -> None:
    conversations = [c for cs in demo.values() for c in cs]
    waiting = [c for c in conversations if c.unread]
    assert 5 <= len(waiting) <= 0.15 * len(conversations)
    for conversation in waiting:
        tail = conversation.messages[-conversation.unread :]
        assert all(m.direction is Direction.IN for m in tail)
        assert NOW_MS - tail[-1].timestamp_ms < 2 * DAY_MS
    assert all(c.unread >= 0 for c in conversations)


def test_messages_are_genuine_immutable_demo_messages(
    demo: dict[int, list[DemoConversation]],
) -> None:
    message = demo[0][0].messages[0]
    assert type(message) is DemoMessage
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    twin = DemoMessage(
        message.direction,
        message.timestamp_ms,
        message.type,
        message.text,
        copy.deepcopy(message.media),
        message.status,
        message.error,
    )
    assert twin == message
    assert pickle.loads(pickle.dumps(message)) == message
    assert dataclasses.replace(message, text="x").text == "x"


# -- live customers ---------------------------------------------------------------------------

KNOWN = [
    DemoCustomer("+5511987650001", "Ana Souza", "pt"),
    DemoCustomer("+5511987650002", "Seu Antônio", "pt"),
    DemoCustomer("+447700900123", "Emily Carter", "en"),
]


def test_live_customers_are_deterministic_for_a_seeded_rng() -> None:
    def run(seed: int) -> list[object]:
        live = LiveCustomers(0, KNOWN, random.Random(seed))
        out: list[object] = [live.next_inbound() for _ in range(50)]
        out += [live.reply_to_agent(KNOWN[0], "Fica R$ 50,00") for _ in range(20)]
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_live_inbound_messages_come_from_old_and_new_customers() -> None:
    live = LiveCustomers(1, KNOWN, random.Random(5))
    inbound = [live.next_inbound() for _ in range(400)]
    customers = [customer for customer, _, _, _ in inbound]
    assert {c.phone for c in KNOWN} <= {c.phone for c in customers}
    new = {c.phone: c for c in customers if c not in KNOWN}
    assert len(new) >= 50
    by_phone: dict[str, set[str]] = {}
    for customer in customers:
        by_phone.setdefault(customer.phone, set()).add(customer.name)
    assert all(len(names) == 1 for names in by_phone.values())  # one phone, one person
    kinds = Counter(kind for _, kind, _, _ in inbound)
    assert kinds[MessageType.TEXT] >= 300
    for _customer, kind, text, media in inbound:
        assert "{" not in text and not text.startswith("@")
        if kind is MessageType.TEXT:
            assert text.strip() and media is None
        else:
            assert media
    english = [text for customer, kind, text, _ in inbound if customer.language == "en" and text]
    assert english and not any("você" in text for text in english)


def test_live_customers_start_from_nobody() -> None:
    live = LiveCustomers(2, [], random.Random(1))
    customer, kind, text, _ = live.next_inbound()
    assert customer.phone and customer.language in {"pt", "en"}
    assert text or kind is not MessageType.TEXT


def test_live_customers_tolerate_an_unknown_profile_index() -> None:
    live = LiveCustomers(len(PROFILES) + 3, KNOWN, random.Random(1))
    assert live.next_inbound()


def replies(live: LiveCustomers, customer: DemoCustomer, agent_text: str) -> set[str]:
    """The distinct non-silent answers of 200 tries."""
    answers = (live.reply_to_agent(customer, agent_text) for _ in range(200))
    return {answer for answer in answers if answer is not None}


def test_replies_to_the_agent_are_sometimes_silent_and_fit_the_agent_text() -> None:
    live = LiveCustomers(0, KNOWN, random.Random(9))
    ana, antonio, emily = KNOWN
    prices = [live.reply_to_agent(ana, "O bolo fica R$ 85,00 😊") for _ in range(500)]
    silent = prices.count(None)
    assert 0.3 * 500 <= silent <= 0.5 * 500
    assert "Fechado!" in prices
    assert all(p is None or "Combinado" not in p for p in prices)
    times = replies(live, ana, "Pode retirar amanhã às 15h")
    assert "Combinado!" in times
    thanks = replies(live, ana, "Tudo certo por aqui")
    assert any("obrigada" in t for t in thanks)
    assert not any("obrigado" in t for t in thanks)
    assert any("obrigado" in t for t in replies(live, antonio, "Tudo certo por aqui"))
    english = replies(live, emily, "It's R$85, ready tomorrow")
    assert english and all(text.isascii() or "😅" in text or "👍" in text for text in english)
    assert english <= {
        "Deal!",
        "Sounds good, I'll take it!",
        "Great price 👍",
        "Hmm, a bit pricey... let me think 😅",
    }
