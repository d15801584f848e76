"""The demo workspace's conversations, made from the corpus in ``sync/demo_data/corpus.json``
(ten fictitious businesses, their customers and what they say).

Two consumers: ``sync/engine/demo_workspace.py`` loads a deterministic history from
``generate_history`` (the first three profiles, about 45,000 messages), and the benchmark loads
a million messages over all ten; the demo's adapter (``adapter.py``) keeps the demo alive while
the app runs through ``LiveCustomers``.

The corpus is written as *topics* (a reason to write: customer openers plus the agent replies that
answer them) and question/answer pairs, so that an answer always fits the question it follows.
Placeholders (``{name}``, ``{items}``, ``{price}``, ``{date}``, ``{order}`` ...) are filled per
session from the conversation's context; ``TEMPLATE_KEYS`` lists every one of them.

Everything random comes from a ``random.Random`` seeded by the caller: the same arguments give
the same workspace on every machine, which is what makes screenshots, bug reports and the
benchmark repeatable.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re
import string
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sync.demo_data import load_corpus
from sync.domain.models import DeliveryStatus, Direction, MessageType

# ---------------------------------------------------------------------------------------------
# Public data types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    """Something a business sells, or a service it does, named in both languages.

    ``gender`` ("m" or "f") picks the Portuguese article ("o bolo", "a torta"). A ``service`` is
    never counted ("a troca de tela", not "2 trocas de tela").
    """

    pt: str
    pt_plural: str
    gender: str
    en: str
    en_plural: str
    price_cents: int
    quantity: tuple[int, int] = (1, 1)
    service: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    """One reason to write: what customers open with and what agents reply.

    When there are as many replies as openers, ``replies[i]`` answers ``openers[i]``;
    otherwise any reply answers any opener. ``qa`` holds follow-up (question, answer) pairs
    that only make sense inside this topic.
    """

    openers: tuple[str, ...]
    replies: tuple[str, ...]
    qa: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ScriptLines:
    """Everything the customers and the agents of one business say, in one language.

    A question or answer starting with ``@`` is not text: ``@loc`` sends a location (the
    customer's, or the shop's when the agent sends it), ``@audio`` a voice note.
    ``documents`` are (file name template, caption) pairs. Lines shared by every business are
    already merged in.
    """

    topics: tuple[Topic, ...]
    details: tuple[str, ...]
    qa: tuple[tuple[str, str], ...]
    agent_openers: tuple[tuple[str, tuple[str, ...]], ...]
    acks: tuple[str, ...]
    closings: tuple[str, ...]
    agent_closings: tuple[str, ...]
    holds: tuple[str, ...]
    customer_photos: tuple[str, ...]
    agent_photos: tuple[str, ...]
    documents: tuple[tuple[str, str], ...]
    customer_videos: tuple[str, ...] = ()
    agent_videos: tuple[str, ...] = ()


@dataclass(frozen=True)
class BusinessProfile:
    """One fictitious business answering customers on one WhatsApp number.

    ``phone`` is E.164 ("+5511987412356"); ``display_phone`` is how a Brazilian writes it.
    ``open_hours`` (local time, decimal hours) is when its customers write; ``hours`` says the
    same in words for the lines that quote it. ``extras`` adds business-specific placeholders:
    (key, Portuguese values, English values).
    """

    key: str
    name: str
    phone: str
    kind: str
    address: str
    latitude: float
    longitude: float
    agents: tuple[str, ...]
    english_share: float
    open_hours: tuple[float, float]
    hours: tuple[str, str]
    products: tuple[Product, ...]
    pt: ScriptLines
    en: ScriptLines
    extras: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()

    @property
    def display_phone(self) -> str:
        """The number as printed on the shop's sign: "+55 11 98741-2356"."""
        digits = self.phone[3:]
        return f"+55 {digits[:2]} {digits[2:7]}-{digits[7:]}"

    def lines(self, language: str) -> ScriptLines:
        """The script in ``language`` ("pt" or "en")."""
        return self.en if language == "en" else self.pt


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """A fictitious customer: E.164 phone, WhatsApp display name, language ("pt" or "en")."""

    phone: str
    name: str
    language: str


@dataclass(frozen=True, slots=True)
class DemoMessage:
    """One message of a generated conversation.

    ``status`` is ``received`` for inbound messages; outbound ones are mostly ``read``, some
    ``delivered``/``sent`` near the end of a chat, and rarely ``failed`` with ``error`` set.
    ``media`` describes non-text content (file name, MIME type, size; a voice note's
    ``duration_s``; a location's ``latitude``/``longitude``/``name``).
    """

    direction: Direction
    timestamp_ms: int
    type: MessageType
    text: str
    media: dict[str, Any] | None
    status: DeliveryStatus
    error: str | None


@dataclass(frozen=True, slots=True)
class DemoConversation:
    """A customer with their messages in chronological order.

    ``unread`` counts the trailing inbound messages nobody has opened yet (non-zero only for a
    few recent conversations).
    """

    customer: DemoCustomer
    messages: list[DemoMessage]
    unread: int


# Every placeholder a line may use; a test formats every line against a context built from
# exactly these (plus the profile's extras), so a typo fails a test instead of the demo.
TEMPLATE_KEYS: Final = (
    "name",
    "agent",
    "business",
    "hours",
    "product",
    "o_product",
    "O_product",
    "do_product",
    "um_product",
    "items",
    "price",
    "date",
    "time",
    "order",
    "other_name",
    "obrigado",
    "Obrigado",
)


# ---------------------------------------------------------------------------------------------
# The data (sync/demo_data/corpus.json), read once when this module is first imported
# ---------------------------------------------------------------------------------------------

_Raw = dict[str, Any]


def _strings(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def _pairs(values: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((first, second) for first, second in values)


def _openers(values: Sequence[Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((text, tuple(answers)) for text, answers in values)


# How each kind of line is stored: a list of strings, of (question, answer) pairs, or of
# (agent opener, customer answers) pairs.
_LINE_KINDS: Final[dict[str, Callable[[Any], tuple[Any, ...]]]] = {
    "details": _strings,
    "qa": _pairs,
    "agent_openers": _openers,
    "acks": _strings,
    "closings": _strings,
    "agent_closings": _strings,
    "holds": _strings,
    "customer_photos": _strings,
    "agent_photos": _strings,
    "documents": _pairs,
    "customer_videos": _strings,
    "agent_videos": _strings,
}


def _lines(raw: _Raw) -> dict[str, tuple[Any, ...]]:
    return {key: _LINE_KINDS[key](value) for key, value in raw.items() if key != "topics"}


_CORPUS: Final[_Raw] = load_corpus()

# Greetings depend on the local time of day (morning, afternoon, evening): nobody says "Boa
# noite" at 9 in the morning.
_GREETINGS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    language: (_strings(morning), _strings(afternoon), _strings(evening))
    for language, (morning, afternoon, evening) in _CORPUS["greetings"].items()
}

# Lines every business shares.
_COMMON: Final[dict[str, dict[str, tuple[Any, ...]]]] = {
    language: _lines(raw) for language, raw in _CORPUS["common"].items()
}


def _script(language: str, raw: _Raw) -> ScriptLines:
    """A business's lines merged with the shared ones.

    Business-specific lines are listed twice so that they outweigh the shared small talk: a
    bakery should sound like a bakery first and like any shop second.
    """
    common = _COMMON[language]
    own = _lines(raw)

    def merged(key: str) -> tuple[Any, ...]:
        return own.get(key, ()) * 2 + common[key]

    return ScriptLines(
        topics=tuple(
            Topic(
                _strings(topic["openers"]), _strings(topic["replies"]), _pairs(topic.get("qa", ()))
            )
            for topic in raw["topics"]
        ),
        details=merged("details"),
        qa=merged("qa"),
        agent_openers=merged("agent_openers"),
        acks=common["acks"],
        closings=common["closings"],
        agent_closings=common["agent_closings"],
        holds=common["holds"],
        customer_photos=merged("customer_photos"),
        agent_photos=merged("agent_photos"),
        documents=own.get("documents", ()),
        customer_videos=own.get("customer_videos", ()),
        agent_videos=own.get("agent_videos", ()),
    )


def _product(raw: _Raw) -> Product:
    # A service is named once: "a troca de tela", never "2 trocas de tela".
    service = bool(raw.get("service", False))
    low, high = raw.get("quantity", (1, 1))
    return Product(
        pt=raw["pt"],
        pt_plural=raw["pt"] if service else raw["pt_plural"],
        gender=raw["gender"],
        en=raw["en"],
        en_plural=raw["en"] if service else raw["en_plural"],
        price_cents=raw["price_cents"],
        quantity=(low, high),
        service=service,
    )


def _profile(raw: _Raw) -> BusinessProfile:
    opens, closes = raw["open_hours"]
    hours_pt, hours_en = raw["hours"]
    return BusinessProfile(
        key=raw["key"],
        name=raw["name"],
        phone=raw["phone"],
        kind=raw["kind"],
        address=raw["address"],
        latitude=raw["latitude"],
        longitude=raw["longitude"],
        agents=_strings(raw["agents"]),
        english_share=raw["english_share"],
        open_hours=(opens, closes),
        hours=(hours_pt, hours_en),
        products=tuple(_product(product) for product in raw["products"]),
        pt=_script("pt", raw["pt"]),
        en=_script("en", raw["en"]),
        extras=tuple(
            (extra["key"], _strings(extra["pt"]), _strings(extra["en"]))
            for extra in raw.get("extras", ())
        ),
    )


PROFILES: Final[tuple[BusinessProfile, ...]] = tuple(_profile(raw) for raw in _CORPUS["profiles"])
"""The demo businesses, in the order the demo and the benchmark use them: the demo shows the
first three, the benchmark loads all ten."""


# ---------------------------------------------------------------------------------------------
# Customers: names and phone numbers
# ---------------------------------------------------------------------------------------------

_NAMES: Final[_Raw] = _CORPUS["names"]
_FEMALE_PT: Final = _strings(_NAMES["female_pt"])
_MALE_PT: Final = _strings(_NAMES["male_pt"])
_SURNAMES_PT: Final = _strings(_NAMES["surnames_pt"])
_FIRST_EN: Final = _strings(_NAMES["first_en"])
_SURNAMES_EN: Final = _strings(_NAMES["surnames_en"])
_NAME_EMOJI: Final = _strings(_NAMES["emoji"])
_GENDER: Final[dict[str, str]] = {
    **{name: "f" for name in _FEMALE_PT},
    **{name: "m" for name in _MALE_PT},
    **_NAMES["honorifics"],
}
_HONORIFICS: Final = frozenset(_NAMES["honorifics"])

# Area codes weighted by how often they are drawn: mostly São Paulo, as the shops are there,
# with the rest of the country sprinkled in.
_DDDS: Final = tuple(
    int(ddd) for ddd, weight in _CORPUS["area_codes"]["br_weights"].items() for _ in range(weight)
)
# Foreign numbers come from ranges reserved for fiction (US 555-0100..0199, UK 07700 900xxx), so
# a screenshot of the demo never shows a real person's number. Brazil and Portugal reserve none.
_US_AREAS: Final[tuple[int, ...]] = tuple(_CORPUS["area_codes"]["us"])


def _new_phone(rng: random.Random, language: str, taken: set[str]) -> str:
    """A mobile number nobody in ``taken`` has; it is added to ``taken``."""
    while True:
        if language == "pt":
            phone = f"+55{rng.choice(_DDDS)}9{rng.randint(6000_0000, 9999_9999)}"
        else:
            pick = rng.random()
            if pick < 0.45:
                phone = f"+1{rng.choice(_US_AREAS)}55501{rng.randrange(100):02d}"
            elif pick < 0.75:
                phone = f"+447700900{rng.randrange(1000):03d}"
            else:
                phone = f"+3519{rng.choice('1236')}{rng.randrange(10_000_000):07d}"
        if phone not in taken:
            taken.add(phone)
            return phone


def _new_customer(
    rng: random.Random, profile: BusinessProfile, taken: set[str]
) -> tuple[DemoCustomer, str, str]:
    """A new customer with a unique phone, plus how the agent calls them and their gender."""
    if rng.random() < profile.english_share:
        first = rng.choice(_FIRST_EN)
        name = first if rng.random() < 0.15 else f"{first} {rng.choice(_SURNAMES_EN)}"
        return DemoCustomer(_new_phone(rng, "en", taken), name, "en"), first, ""
    gender = "f" if rng.random() < 0.58 else "m"
    first = rng.choice(_FEMALE_PT if gender == "f" else _MALE_PT)
    style = rng.random()
    call = first
    # WhatsApp display names are whatever people typed: full names, first names only, the
    # respectful "Dona"/"Seu" older customers get saved as, an emoji after the name.
    if style < 0.66:
        name = f"{first} {rng.choice(_SURNAMES_PT)}"
    elif style < 0.8:
        name = first
    elif style < 0.9:
        call = name = f"{'Dona' if gender == 'f' else 'Seu'} {first}"
    else:
        name = f"{first} {rng.choice(_SURNAMES_PT)} {rng.choice(_NAME_EMOJI)}"
    return DemoCustomer(_new_phone(rng, "pt", taken), name, "pt"), call, gender


def _call_name(name: str) -> str:
    """How an agent addresses a customer: "Dona Conceição", "João" (from "João Silva 🌻")."""
    words = [word for word in name.split() if any(ch.isalpha() for ch in word)]
    if not words:
        return ""
    if words[0] in _HONORIFICS and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0]


def _gender_of(call_name: str) -> str:
    """ "f", "m" or "" (unknown) from the first word of how the customer is called."""
    first = call_name.split(" ", 1)[0] if call_name else ""
    return _GENDER.get(first, "")


# ---------------------------------------------------------------------------------------------
# Template contexts
# ---------------------------------------------------------------------------------------------

_DATES: Final = {language: _strings(dates) for language, dates in _CORPUS["dates"].items()}


def _price(cents: int, language: str) -> str:
    reais, rest = divmod(cents, 100)
    if language == "en":
        return f"R${reais:,}.{rest:02d}"
    return "R$ " + f"{reais:,}".replace(",", ".") + f",{rest:02d}"


def _clock(hour: float, language: str) -> str:
    whole = int(hour)
    half = hour - whole >= 0.5
    if language == "en":
        twelve = whole % 12 or 12
        suffix = "am" if whole < 12 else "pm"
        return f"{twelve}:30 {suffix}" if half else f"{twelve} {suffix}"
    return f"{whole}h30" if half else f"{whole}h"


_CONTEXT_VARIANTS: Final = 24


class _Script:
    """One profile's lines in one language, flattened into what the generator draws from."""

    def __init__(self, profile: BusinessProfile, language: str) -> None:
        lines = profile.lines(language)
        self.profile = profile
        self.language = language
        self.lines = lines
        self.greetings = _GREETINGS[language]
        self.neutral_greetings = tuple(
            g for g in self.greetings[0] if g in self.greetings[1] and g in self.greetings[2]
        )
        self.topic_pairs = tuple(pair for topic in lines.topics for pair in topic.qa)
        self.plain_questions = tuple(q for q, _ in lines.qa + self.topic_pairs if q[0] != "@")
        self.extras = tuple((key, en if language == "en" else pt) for key, pt, en in profile.extras)
        self.first_names = _FIRST_EN if language == "en" else _FEMALE_PT + _MALE_PT
        self.hours = profile.hours[1 if language == "en" else 0]
        lo, hi = profile.open_hours
        # Times agents and customers quote: on the half hour, inside opening hours.
        self.clock_times = tuple(
            _clock(lo + 0.5 * step, language) for step in range(1, max(2, int((hi - lo) * 2)))
        )
        # Its own fixed seed: the pool is part of the script, the same for every history seed.
        pool_rng = random.Random(f"caixa-demo-context:{profile.key}:{language}")
        self._pool = tuple(
            tuple(self._variant(pool_rng, product) for _ in range(_CONTEXT_VARIANTS))
            for product in profile.products
        )

    def context(
        self, rng: random.Random, call_name: str, gender: str, product: int, order: int
    ) -> dict[str, str]:
        """Values for every placeholder, drawn once per session so a session stays consistent.

        ``product`` indexes the profile's products. The values that do not depend on the
        customer come from a pool made once per script: copying a ready dict is what keeps
        a session's set-up out of the way of a million-message benchmark.
        """
        variants = self._pool[product]
        context = variants[int(rng.random() * len(variants))].copy()
        context["name"] = call_name
        context["order"] = str(order)
        if self.language == "pt" and gender == "f":
            context["obrigado"] = "obrigada"
            context["Obrigado"] = "Obrigada"
        return context

    def _variant(self, rng: random.Random, product: Product) -> dict[str, str]:
        pick = rng.random
        en = self.language == "en"
        low, high = product.quantity
        quantity = 1 if product.service else rng.randint(low, high)
        if en:
            article = "an" if product.en[0] in "aeiouAEIOU" else "a"
            one = f"{article} {product.en}"
            the = f"the {product.en}"
            plural = f"{quantity} {product.en_plural}"
            context = {
                "product": product.en,
                "o_product": the,
                "O_product": f"The {product.en}",
                "do_product": f"of the {product.en}",
                "um_product": one,
                "obrigado": "thanks",
                "Obrigado": "Thanks",
            }
        else:
            masculine = product.gender == "m"
            the = ("o " if masculine else "a ") + product.pt
            one = ("um " if masculine else "uma ") + product.pt
            plural = f"{quantity} {product.pt_plural}"
            context = {
                "product": product.pt,
                "o_product": the,
                "O_product": the[0].upper() + the[1:],
                "do_product": ("do " if masculine else "da ") + product.pt,
                "um_product": one,
                "obrigado": "obrigado",
                "Obrigado": "Obrigado",
            }
        context["items"] = the if product.service else one if quantity == 1 else plural
        dates = _DATES[self.language]
        agents = self.profile.agents
        context["name"] = ""
        context["order"] = ""
        context["agent"] = agents[int(pick() * len(agents))]
        context["business"] = self.profile.name
        context["hours"] = self.hours
        context["price"] = _price(product.price_cents * quantity, self.language)
        day = 1 + int(pick() * 28)
        context["date"] = dates[int(pick() * len(dates))] if en or pick() < 0.8 else f"dia {day}"
        context["time"] = self.clock_times[int(pick() * len(self.clock_times))]
        context["other_name"] = self.first_names[int(pick() * len(self.first_names))]
        for key, values in self.extras:
            context[key] = values[int(pick() * len(values))]
        return context


# Filling templates is the generator's most expensive step: ``str.format_map`` re-parses the
# template on every call and is slow on strings with emoji (it widens every character to four
# bytes as it goes). Each template is parsed once instead, into literals and keys, and filled by
# a function whose f-string joins the pieces in one go: about three times faster.
def _render1(l0: str, k0: str, l1: str, c: dict[str, str]) -> str:
    return f"{l0}{c[k0]}{l1}"


def _render2(l0: str, k0: str, l1: str, k1: str, l2: str, c: dict[str, str]) -> str:
    return f"{l0}{c[k0]}{l1}{c[k1]}{l2}"


def _render3(
    l0: str, k0: str, l1: str, k1: str, l2: str, k2: str, l3: str, c: dict[str, str]
) -> str:
    return f"{l0}{c[k0]}{l1}{c[k1]}{l2}{c[k2]}{l3}"


def _render4(
    l0: str,
    k0: str,
    l1: str,
    k1: str,
    l2: str,
    k2: str,
    l3: str,
    k3: str,
    l4: str,
    c: dict[str, str],
) -> str:
    return f"{l0}{c[k0]}{l1}{c[k1]}{l2}{c[k2]}{l3}{c[k3]}{l4}"


_RENDERERS: Final[tuple[Callable[..., str], ...]] = (_render1, _render2, _render3, _render4)
_COMPILED: dict[str, Callable[[dict[str, str]], str]] = {}


def _compile(template: str) -> Callable[[dict[str, str]], str]:
    """A function filling ``template`` from a context, equivalent to ``format_map``."""
    # Literal, key, literal, key, ..., literal: "{{" comes back as a literal of its own, so
    # literals are gathered until the next key.
    pieces: list[str] = []
    literals = ""
    simple = True
    for literal, key, spec, conversion in string.Formatter().parse(template):
        literals += literal
        if key is not None:
            simple = simple and key.isidentifier() and not spec and not conversion
            pieces += (literals, key)
            literals = ""
    pieces.append(literals)
    keys = len(pieces) // 2
    if not simple or not 1 <= keys <= len(_RENDERERS):
        return template.format_map
    return functools.partial(_RENDERERS[keys - 1], *pieces)


def _fill(template: str, context: dict[str, str]) -> str:
    """``template.format_map(context)``, through the compiled form when there is a placeholder."""
    if "{" not in template:
        return template
    render = _COMPILED.get(template)
    if render is None:
        render = _COMPILED[template] = _compile(template)
    return render(context)


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------

_MINUTE: Final = 60_000
_HOUR: Final = 3_600_000
_DAY: Final = 86_400_000
# São Paulo has had no daylight saving time since 2019: local time is UTC-3 all year.
_UTC_OFFSET_MS: Final = -3 * _HOUR

# Who says what, in the order a session unfolds. Customer roles come before agent roles, so
# ``role < _AGENT`` tells the direction.
_GREET, _OPEN, _DETAIL, _CMEDIA, _FOLLOW, _ACK, _CLOSE = range(7)
_AGENT: Final = 7
_HOLD, _REPLY, _AMEDIA, _ANSWER, _AOPEN, _ACLOSE = range(7, 13)

# Quantiles of a conversation's length, as a fraction of max_messages: many short chats (30%
# are at most 5% of the maximum), a middle band, and regulars whose chats run long. The area
# under the curve is 0.4975, so the mean length is about max_messages / 2.
_LENGTH_QUANTILES: Final = ((0.0, 0.0), (0.3, 0.05), (0.45, 0.35), (0.6, 0.85), (1.0, 1.0))

_COUNT_BLOCK: Final = 500

# A session's shape is its roles and each message's delay from the session's first message.
_Shape = tuple[tuple[int, ...], tuple[int, ...]]


def _customer_session(r: Callable[[], float]) -> list[int]:
    """Roles of a session the customer opens: a question, the answer, follow-ups, goodbyes."""
    roles = [_GREET, _OPEN] if r() < 0.25 else [_OPEN]
    if r() < 0.3:
        roles.append(_DETAIL)
    if r() < 0.07:
        roles.append(_CMEDIA)
    if r() < 0.12:
        roles.append(_HOLD)
    roles.append(_REPLY)
    if r() < 0.09:
        roles.append(_AMEDIA)
    x = r()
    for _ in range(0 if x < 0.3 else 1 if x < 0.65 else 2 if x < 0.87 else 3):
        roles.append(_FOLLOW)
        if r() < 0.04:
            roles.append(_CMEDIA)
        roles.append(_ANSWER)
    if r() < 0.75:
        roles.append(_CLOSE)
        if r() < 0.55:
            roles.append(_ACLOSE)
    return roles


def _shape(roles: Sequence[int], r: Callable[[], float]) -> _Shape:
    """The roles with each message's delay from the first.

    Seconds when the same person types on, up to minutes when the other side answers (an agent
    sometimes takes a quarter of an hour), a few more minutes after "let me check".
    """
    offsets = [0]
    t = 0
    for previous, role in itertools.pairwise(roles):
        if (previous < _AGENT) == (role < _AGENT):
            t += 2_000 + int(40_000 * r())
        elif role < _AGENT:
            t += 15_000 + int(600_000 * r() * r())
        else:
            t += 30_000 + int(900_000 * r() ** 3)
        if previous == _HOLD:
            t += 60_000 + int(300_000 * r())
        offsets.append(t)
    return tuple(roles), tuple(offsets)


def _shapes(
    name: str, count: int, make: Callable[[Callable[[], float]], Sequence[int]]
) -> tuple[_Shape, ...]:
    """``count`` sessions drawn once, with a fixed seed, for the generator to pick from.

    Drawing a session's roles and delays costs a dozen random numbers per message; picking a
    ready one costs one per session. A couple of thousand shapes is far more than anyone
    notices repeating.
    """
    r = random.Random(f"caixa-demo-shapes:{name}").random
    return tuple(_shape(make(r), r) for _ in range(count))


@dataclass(frozen=True, slots=True)
class _SessionShapes:
    """Sessions customers open; short ones for a chat's last few messages; sessions the shop
    opens (an order is ready, a reminder, a promotion); the unanswered ends of waiting chats
    (by length, 1 to 3)."""

    customer: tuple[_Shape, ...]
    short: tuple[_Shape, ...]
    shop: tuple[_Shape, ...]
    waiting: tuple[tuple[_Shape, ...], ...]


@functools.cache
def _session_shapes() -> _SessionShapes:
    # Made on first use, not at import: it takes a few tens of milliseconds, which the app's
    # start-up (and every process that merely imports sync/) should not pay.
    return _SessionShapes(
        customer=_shapes("customer", 2048, _customer_session),
        short=_shapes("short", 256, lambda r: (_OPEN, _REPLY, _CLOSE)),
        shop=_shapes(
            "shop", 256, lambda r: (_AOPEN, _ACK, _ACLOSE) if r() < 0.45 else (_AOPEN, _ACK)
        ),
        waiting=(
            _shapes("waiting1", 256, lambda r: (_OPEN,)),
            _shapes("waiting2", 256, lambda r: (_GREET, _OPEN) if r() < 0.5 else (_OPEN, _DETAIL)),
            _shapes("waiting3", 256, lambda r: (_GREET, _OPEN, _DETAIL)),
        ),
    )


_WAITING_SHARE: Final = 0.06
_FAILED_SHARE: Final = 0.003
_LOG_KEEP: Final = math.log(1.0 - _FAILED_SHARE)
_SEND_ERRORS: Final = _strings(_CORPUS["send_errors"])


_IN, _OUT = Direction.IN, Direction.OUT
_TEXT, _IMAGE, _AUDIO = MessageType.TEXT, MessageType.IMAGE, MessageType.AUDIO
_VIDEO, _DOCUMENT, _LOCATION = MessageType.VIDEO, MessageType.DOCUMENT, MessageType.LOCATION
_RECEIVED, _READ, _PLAYED = DeliveryStatus.RECEIVED, DeliveryStatus.READ, DeliveryStatus.PLAYED
_DELIVERED, _SENT, _FAILED = DeliveryStatus.DELIVERED, DeliveryStatus.SENT, DeliveryStatus.FAILED


@dataclass(slots=True)
class _MessageSlots:
    """DemoMessage's mutable twin: same fields, same slots, see ``_HistoryWriter.messages``."""

    direction: Direction
    timestamp_ms: int
    type: MessageType
    text: str
    media: dict[str, Any] | None
    status: DeliveryStatus
    error: str | None


def _message_counts(rng: random.Random, conversations: int, max_messages: int) -> Iterator[int]:
    """Conversation lengths from ``_LENGTH_QUANTILES``, stratified by blocks, then shuffled.

    One draw per 1/n slice of the distribution keeps a block's total within a fraction of a
    percent of its expectation, so "150 chats of up to 200" reliably means about 15,000
    messages, while each chat's length still looks random. Blocks keep generation lazy.
    """
    span = max_messages - 1
    for block_start in range(0, conversations, _COUNT_BLOCK):
        size = min(_COUNT_BLOCK, conversations - block_start)
        counts: list[int] = []
        for index in range(size):
            u = (index + rng.random()) / size
            for (u0, q0), (u1, q1) in itertools.pairwise(_LENGTH_QUANTILES):
                if u <= u1:
                    counts.append(1 + int((q0 + (q1 - q0) * (u - u0) / (u1 - u0)) * span + 0.5))
                    break
        rng.shuffle(counts)
        yield from counts


def _day_stamp(timestamp_ms: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime((timestamp_ms + _UTC_OFFSET_MS) // 1000))


def _image_media(rng: random.Random, timestamp_ms: int | None) -> dict[str, Any]:
    stamp = f"-{_day_stamp(timestamp_ms)}" if timestamp_ms is not None else ""
    wide = rng.random() < 0.3
    return {
        "filename": f"IMG{stamp}-WA{rng.randrange(10_000):04d}.jpg",
        "mime_type": "image/jpeg",
        "size": rng.randint(60_000, 420_000),
        "width": 1600 if wide else 1200,
        "height": 900 if wide else 1600,
    }


def _video_media(rng: random.Random, timestamp_ms: int | None) -> dict[str, Any]:
    stamp = f"-{_day_stamp(timestamp_ms)}" if timestamp_ms is not None else ""
    seconds = rng.randint(4, 45)
    return {
        "filename": f"VID{stamp}-WA{rng.randrange(10_000):04d}.mp4",
        "mime_type": "video/mp4",
        "size": seconds * rng.randint(180_000, 320_000),
        "duration_s": seconds,
    }


def _audio_media(rng: random.Random) -> dict[str, Any]:
    # Voice notes are mostly short, a few are rambling minute-long explanations.
    seconds = 2 + int(rng.random() ** 2 * 95)
    return {
        "mime_type": "audio/ogg; codecs=opus",
        "duration_s": seconds,
        "size": seconds * 2_000,  # WhatsApp voice notes are Opus at about 16 kbit/s
        "voice": True,
    }


def _document_media(rng: random.Random, filename: str) -> dict[str, Any]:
    return {
        "filename": filename,
        "mime_type": "application/pdf",
        "size": rng.randint(30_000, 900_000),
        "pages": rng.randint(1, 4),
    }


def _customer_location(rng: random.Random, profile: BusinessProfile) -> dict[str, Any]:
    # Within about 4 km of the shop: that is who writes to a neighbourhood business.
    return {
        "latitude": round(profile.latitude + (rng.random() - 0.5) * 0.07, 6),
        "longitude": round(profile.longitude + (rng.random() - 0.5) * 0.07, 6),
    }


def _shop_location(profile: BusinessProfile) -> dict[str, Any]:
    return {
        "latitude": profile.latitude,
        "longitude": profile.longitude,
        "name": profile.name,
        "address": profile.address,
    }


class _HistoryWriter:
    """Writes the conversations of one profile; all randomness comes from ``rng``."""

    def __init__(
        self, profile: BusinessProfile, rng: random.Random, now_ms: int, span_days: int
    ) -> None:
        self.profile = profile
        self.rng = rng
        self.scripts = {"pt": _Script(profile, "pt"), "en": _Script(profile, "en")}
        self.shapes = _session_shapes()
        self.now_ms = now_ms
        self.span_days = max(1, span_days)
        self.local_now = now_ms + _UTC_OFFSET_MS
        low, high = profile.open_hours
        self.open_ms = int(low * _HOUR)
        self.open_span = int((high - low) * _HOUR)

    def conversation(
        self, customer: DemoCustomer, call_name: str, gender: str, count: int, waiting: bool
    ) -> DemoConversation:
        """One conversation of exactly ``count`` messages."""
        sessions, tail = self.plan(count, waiting)
        starts, base = self.times(sessions, waiting)
        script = self.scripts[customer.language]
        messages = self.messages(sessions, starts, base, script, call_name, gender)
        return DemoConversation(customer, messages, tail)

    # -- what is said, by whom ----------------------------------------------------------------

    def plan(self, count: int, waiting: bool) -> tuple[list[_Shape], int]:
        """The sessions of a chat of ``count`` messages, and how many of them are unread.

        Customers open most sessions, the shop some later ones. A waiting conversation ends
        with 1-3 customer messages that nobody has answered (or opened) yet.
        """
        r = self.rng.random
        tail = min(count, 1 + (r() < 0.45) + (r() < 0.15)) if waiting else 0
        budget = count - tail
        shapes = self.shapes
        customer, short, shop = shapes.customer, shapes.short, shapes.shop
        sessions: list[_Shape] = []
        used = 0
        while used < budget:
            remaining = budget - used
            if used and r() < 0.18:
                shape = shop[int(r() * len(shop))]
            elif remaining < 4:
                shape = short[int(r() * len(short))]
            else:
                shape = customer[int(r() * len(customer))]
            roles, offsets = shape
            if len(roles) > remaining:
                shape = (roles[:remaining], offsets[:remaining])
            sessions.append(shape)
            used += len(shape[0])
        if tail:
            waiting_shapes = shapes.waiting[tail - 1]
            sessions.append(waiting_shapes[int(r() * len(waiting_shapes))])
        return sessions, tail

    # -- when -----------------------------------------------------------------------------------

    def times(self, sessions: list[_Shape], waiting: bool) -> tuple[list[int], int]:
        """When each session starts, relative to local midnight of the first day, and the
        offset that turns those into UTC epoch milliseconds.

        Sessions start in the shop's opening hours, days apart (so day separators mean
        something), sometimes twice a day. Whole-day shifts place the chat so it ends
        ``recency`` days ago (now, for a waiting one) and before ``now_ms``, keeping every
        session in opening hours.
        """
        r = self.rng.random
        count = len(sessions)
        span_days = self.span_days
        # A regular's long chat needs room: at least two days per session on average, so the
        # longer the chat, the more recently it must end. Most chats ended in the last weeks.
        room = max(0, span_days - 1 - min(span_days - 1, 2 * count))
        recency = 0 if waiting else int(room * r() ** 2.5)
        available = max(0, span_days - 1 - recency)
        if waiting:
            # The unanswered messages came in a few minutes to a few hours ago.
            target = self.local_now - 5 * _MINUTE - int(r() ** 2 * 10 * _HOUR)
            end_day, last_tod = divmod(target, _DAY)
        else:
            end_day, last_tod = self.local_now // _DAY - recency, -1
        oldest = self.now_ms - span_days * _DAY
        while True:
            starts, base = self.place(sessions, available, end_day, last_tod)
            overshoot = oldest - (base + starts[0])
            if overshoot <= 0 or not available:
                return starts, base
            # Sessions pushed to the next morning made the chat longer than its span: squeeze
            # the gaps and place it again (rare, and at most a few times).
            available = max(0, available - 1 - overshoot // _DAY)

    def place(
        self, sessions: list[_Shape], available: int, end_day: int, last_tod: int
    ) -> tuple[list[int], int]:
        """Session starts spread over about ``available`` days, ending on ``end_day``.

        ``last_tod`` (when not negative) is the local time of day the last session starts.
        """
        r = self.rng.random
        count = len(sessions)
        mean_gap = min(6.0, available / max(1, count - 1))
        gaps = [int(-math.log(1.0 - r()) * mean_gap + 0.5) for _ in range(count - 1)]
        total = sum(gaps)
        if total > available:
            gaps = [gap * available // total for gap in gaps]
        open_ms, open_span = self.open_ms, self.open_span
        closing = open_ms + open_span
        half_hour, pause, pause_span = 30 * _MINUTE, 45 * _MINUTE, 4 * _HOUR
        starts: list[int] = []
        day = debt = 0
        previous_end = -_DAY
        start = 0
        for index, (_, offsets) in enumerate(sessions):
            same_day = False
            if index:
                gap = gaps[index - 1]
                if debt and gap > 1:
                    # Days borrowed by sessions moved to the next morning come out of later
                    # gaps, so the chat still fits in its span.
                    paid = min(gap - 1, debt)
                    gap -= paid
                    debt -= paid
                day += gap
                same_day = not gap
            if index == count - 1 and last_tod >= 0:
                start = max(day * _DAY + last_tod, previous_end + half_hour)
            elif (
                same_day
                and (later := previous_end + pause + int(r() * pause_span)) % _DAY < closing
            ):
                # Back the same day: an hour or a few later, not right after the last one.
                start = later
            else:
                if same_day:
                    day += 1  # too late for another session today: tomorrow, then
                    debt += 1
                start = day * _DAY + open_ms + int(open_span * (r() + r()) * 0.5)
                if start < previous_end + half_hour:
                    start = previous_end + half_hour
            day = start // _DAY
            starts.append(start)
            previous_end = start + offsets[-1]
        base = (end_day - start // _DAY) * _DAY - _UTC_OFFSET_MS
        while base + previous_end >= self.now_ms:
            base -= _DAY
        return starts, base

    # -- the messages themselves ---------------------------------------------------------------

    def tail_status(self, age_ms: int) -> DeliveryStatus:
        """How far the customer got with the agent's last messages, by how old they are."""
        x = self.rng.random()
        if age_ms < 6 * _HOUR:
            return _READ if x < 0.4 else _DELIVERED if x < 0.8 else _SENT
        if age_ms < 3 * _DAY:
            return _READ if x < 0.75 else _DELIVERED
        return _READ if x < 0.92 else _DELIVERED

    def messages(
        self,
        sessions: list[_Shape],
        starts: list[int],
        base: int,
        script: _Script,
        call_name: str,
        gender: str,
    ) -> list[DemoMessage]:
        """Fill each role with a line, media and a delivery status.

        This loop runs a million times in the benchmark, so it binds everything to locals and
        builds messages through ``_MessageSlots``: a frozen dataclass sets each field with
        ``object.__setattr__``, several times slower than a plain slotted ``__init__``. The
        twin has the very same slots, so CPython lets its instance become a ``DemoMessage`` by
        assigning ``__class__``; from then on it is an ordinary, immutable ``DemoMessage``.
        """
        rng = self.rng
        r = rng.random
        lines = script.lines
        topics = lines.topics
        product_count = len(self.profile.products)
        greetings = script.greetings
        simple: tuple[tuple[str, ...], ...] = (
            (), (), lines.details, (), (), lines.acks, lines.closings,
            lines.holds, (), (), (), (), lines.agent_closings,
        )  # fmt: skip
        qa = lines.qa
        agent_openers = lines.agent_openers
        # Outgoing messages the customer answered afterwards were read; those after the last
        # answer are as far as the end of the chat allows.
        position = sum(len(roles) for roles, _ in sessions)
        last_in = -1
        for roles, _ in reversed(sessions):
            position -= len(roles)
            inbound = [k for k, role in enumerate(roles) if role < _AGENT]
            if inbound:
                last_in = position + inbound[-1]
                break
        tail_status = self.tail_status(self.now_ms - base - starts[-1] - sessions[-1][1][-1])
        # Failures are rare: count down to the next one instead of rolling for each message.
        fail_in = self.until_failure()
        make = _MessageSlots
        compiled = _COMPILED
        klass = DemoMessage
        incoming, outgoing, received, read = _IN, _OUT, _RECEIVED, _READ
        text_kind, audio_kind = _TEXT, _AUDIO
        messages: list[Any] = []
        append = messages.append
        i = -1
        product = int(r() * product_count)
        order = 1000 + int(r() * 9000)
        context: dict[str, str] | None = None
        topic = topics[0]
        answer = asked = ""
        opener = 0
        acks = lines.acks
        for (roles, offsets), start in zip(sessions, starts, strict=True):
            # A new session: maybe another product, maybe a new order, a fresh topic.
            if r() < 0.5:
                product = int(r() * product_count)
            if r() < 0.4:
                order += 1 + int(r() * 300)
            # Made on first use: a session of plain lines ("Aceita Pix?") never needs one.
            context = None
            topic = topics[int(r() * len(topics))]
            session_base = base + start
            for role, offset in zip(roles, offsets, strict=True):
                i += 1
                ts = session_base + offset
                if role < _AGENT:
                    if role == _OPEN:
                        opener = int(r() * len(topic.openers))
                        text = topic.openers[opener]
                    elif role == _FOLLOW:
                        pairs = topic.qa if topic.qa and r() < 0.5 else qa
                        text, answer = pairs[int(r() * len(pairs))]
                        if text == asked:  # nobody asks the same thing twice in a row
                            text, answer = qa[int(r() * len(qa))]
                        asked = text
                    elif role == _GREET:
                        hour = (ts + _UTC_OFFSET_MS) // _HOUR % 24
                        pool = greetings[0 if hour < 12 else 1 if hour < 18 else 2]
                        text = pool[int(r() * len(pool))]
                    elif role == _CMEDIA:
                        text = "@media"
                    else:
                        pool = acks if role == _ACK else simple[role]
                        text = pool[int(r() * len(pool))]
                    if text[0] == "@":
                        kind, text, media = self.customer_media(text, script, ts)
                        message = make(incoming, ts, kind, text, media, received, None)
                    else:
                        if "{" in text:
                            if context is None:
                                context = script.context(rng, call_name, gender, product, order)
                            render = compiled.get(text)
                            if render is None:
                                render = compiled[text] = _compile(text)
                            text = render(context)
                        message = make(incoming, ts, text_kind, text, None, received, None)
                else:
                    if role == _ANSWER:
                        text = answer or qa[int(r() * len(qa))][1]
                        answer = ""
                    elif role == _REPLY:
                        pool = topic.replies
                        text = pool[
                            opener if len(pool) == len(topic.openers) else int(r() * len(pool))
                        ]
                    elif role == _AOPEN:
                        text, own_acks = agent_openers[int(r() * len(agent_openers))]
                        acks = own_acks if own_acks and r() < 0.7 else lines.acks
                    elif role == _AMEDIA:
                        text = "@media"
                    else:
                        pool = simple[role]
                        text = pool[int(r() * len(pool))]
                    status = read if i < last_in else tail_status
                    fail_in -= 1
                    if fail_in:
                        error = None
                    else:
                        fail_in = self.until_failure()
                        status = _FAILED
                        error = _SEND_ERRORS[int(r() * len(_SEND_ERRORS))]
                    if text[0] == "@":
                        if context is None:
                            context = script.context(rng, call_name, gender, product, order)
                        kind, text, media = self.agent_media(text, script, context, ts)
                        if kind is audio_kind and status is read:
                            status = _PLAYED
                        message = make(outgoing, ts, kind, text, media, status, error)
                    else:
                        if "{" in text:
                            if context is None:
                                context = script.context(rng, call_name, gender, product, order)
                            render = compiled.get(text)
                            if render is None:
                                render = compiled[text] = _compile(text)
                            text = render(context)
                        message = make(outgoing, ts, text_kind, text, None, status, error)
                message.__class__ = klass  # type: ignore[assignment]
                append(message)
        return messages

    def until_failure(self) -> int:
        """How many outgoing messages until the next failed send (a geometric draw)."""
        return 1 + int(math.log(1.0 - self.rng.random()) / _LOG_KEEP)

    def customer_media(
        self, marker: str, script: _Script, ts: int
    ) -> tuple[MessageType, str, dict[str, Any] | None]:
        """What a customer sends instead of text: a photo, a voice note, a video, a pin."""
        rng = self.rng
        if marker == "@loc":
            return _LOCATION, "", _customer_location(rng, self.profile)
        if marker == "@audio":
            return _AUDIO, "", _audio_media(rng)
        lines = script.lines
        x = rng.random()
        if x < 0.55:
            caption = rng.choice(lines.customer_photos)
            return _IMAGE, caption, _image_media(rng, ts)
        if x < 0.8:
            return _AUDIO, "", _audio_media(rng)
        if x < 0.9 and lines.customer_videos:
            return _VIDEO, rng.choice(lines.customer_videos), _video_media(rng, ts)
        return _LOCATION, "", _customer_location(rng, self.profile)

    def agent_media(
        self, marker: str, script: _Script, context: dict[str, str], ts: int
    ) -> tuple[MessageType, str, dict[str, Any] | None]:
        """What an agent sends instead of text: a quote, a product photo, the shop's pin."""
        rng = self.rng
        if marker == "@loc":
            return _LOCATION, "", _shop_location(self.profile)
        if marker == "@audio":
            return _AUDIO, "", _audio_media(rng)
        lines = script.lines
        x = rng.random()
        if x < 0.35 and lines.documents:
            filename, caption = rng.choice(lines.documents)
            filename = _fill(filename, context)
            return _DOCUMENT, _fill(caption, context), _document_media(rng, filename)
        if x < 0.8:
            return _IMAGE, _fill(rng.choice(lines.agent_photos), context), _image_media(rng, ts)
        if x < 0.9 and lines.agent_videos:
            caption = _fill(rng.choice(lines.agent_videos), context)
            return _VIDEO, caption, _video_media(rng, ts)
        return _AUDIO, "", _audio_media(rng)


def generate_history(
    profile_index: int,
    *,
    seed: int,
    conversations: int,
    max_messages: int,
    now_ms: int,
    span_days: int = 120,
) -> Iterator[DemoConversation]:
    """The conversations of ``PROFILES[profile_index]``, generated lazily and deterministically.

    The same arguments always give the same conversations (randomness comes only from a
    ``random.Random`` seeded with ``seed`` and ``profile_index``). Each conversation has 1 to
    ``max_messages`` messages, about ``max_messages / 2`` on average; its customer's phone is
    unique within the profile; its timestamps strictly increase, stay before ``now_ms`` and
    no older than ``span_days`` days (unless a single chat has more sessions than fit).
    A few recent conversations end with unread messages.
    """
    if not 0 <= profile_index < len(PROFILES):
        raise ValueError(f"no demo profile {profile_index}; there are {len(PROFILES)}")
    if conversations < 0 or max_messages < 1:
        raise ValueError("conversations must be >= 0 and max_messages >= 1")
    # Checked here, at the call, rather than at the first next() of a generator.
    return _generate(profile_index, seed, conversations, max_messages, now_ms, span_days)


def _generate(
    profile_index: int,
    seed: int,
    conversations: int,
    max_messages: int,
    now_ms: int,
    span_days: int,
) -> Iterator[DemoConversation]:
    profile = PROFILES[profile_index]
    rng = random.Random(f"caixa-demo:{seed}:{profile_index}")
    counts = _message_counts(rng, conversations, max_messages)
    writer = _HistoryWriter(profile, rng, now_ms, span_days)
    taken: set[str] = set()
    for count in counts:
        customer, call_name, gender = _new_customer(rng, profile, taken)
        waiting = rng.random() < _WAITING_SHARE
        yield writer.conversation(customer, call_name, gender, count, waiting)


# ---------------------------------------------------------------------------------------------
# Live customers (while the demo runs)
# ---------------------------------------------------------------------------------------------

# What a customer answers to the agent, by what the agent's message is about. "question": the
# agent asked something the demo cannot know ("Qual o modelo?"), so these fit an open question
# as well as a yes/no one.
_REACTIONS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    language: {kind: _strings(answers) for kind, answers in kinds.items()}
    for language, kinds in _CORPUS["reactions"].items()
}


# Checked in this order on the agent's text without accents: a price wins over a time in
# "Fica R$ 50,00, pode retirar amanhã", since that is what the customer answers.
_REACTION_PATTERNS: Final = (
    (
        "price",
        re.compile(
            r"r\$|\breais\b|\bprec|\bvalor|\bcusta|\btotal\b|\bfica\b|\bsai\b"
            r"|\bprice|\bcost"
        ),
    ),
    (
        "time",
        re.compile(
            r"\bhorario|\bhoras?\b|\b\d{1,2}h(\d\d)?\b|\bamanha\b|\bhoje\b|\bsabado"
            r"|\bdomingo|\bsegunda|\bterca|\bquarta|\bquinta|\bsexta|\bagend"
            r"|\btime\b|\btomorrow\b|\btoday\b|\d\s?[ap]m\b|\bschedul|\bbook"
        ),
    ),
    (
        "delivery",
        re.compile(
            r"\bentreg|\bmotoboy|\ba caminho\b|\bsaiu\b|\bpostad|\bdeliver"
            r"|\bon the way\b|\bship"
        ),
    ),
    ("payment", re.compile(r"\bpix\b|\bcartao|\bpagamento|\bboleto|\bpay|\bcard\b")),
    ("thanks", re.compile(r"\bobrigad|\bagradec|\bthank|\bwelcome\b")),
)


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _reaction_kind(agent_text: str) -> str:
    plain = _without_accents(agent_text)
    for kind, pattern in _REACTION_PATTERNS:
        if pattern.search(plain):
            return kind
    return "question" if "?" in plain else "other"


class LiveCustomers:
    """Demo customers who keep writing while the app runs, and sometimes answer the agent.

    All randomness comes from ``rng``, so a seeded demo behaves the same on every run.
    ``customers`` are the people the number already talks to (they continue their chats);
    new customers, with phones none of them has, appear from time to time.
    """

    def __init__(
        self, profile_index: int, customers: Sequence[DemoCustomer], rng: random.Random
    ) -> None:
        # An account created with an unknown index still gets a lively demo, not a crash.
        self._profile = PROFILES[profile_index % len(PROFILES)]
        self._rng = rng
        self._customers = list(customers)
        self._taken = {customer.phone for customer in self._customers}
        self._scripts = {"pt": _Script(self._profile, "pt"), "en": _Script(self._profile, "en")}

    def next_inbound(self) -> tuple[DemoCustomer, MessageType, str, dict[str, Any] | None]:
        """A new message from an existing customer or, about a quarter of the time, a new one."""
        rng = self._rng
        fresh = not self._customers or rng.random() < 0.25
        if fresh:
            customer, call_name, gender = _new_customer(rng, self._profile, self._taken)
            self._customers.append(customer)
        else:
            customer = rng.choice(self._customers)
            call_name = _call_name(customer.name)
            gender = _gender_of(call_name)
        script = self._scripts["en" if customer.language == "en" else "pt"]
        lines = script.lines
        context = script.context(
            rng,
            call_name,
            gender,
            rng.randrange(len(self._profile.products)),
            rng.randrange(1000, 10_000),
        )
        x = rng.random()
        if x < 0.07:
            caption = _fill(rng.choice(lines.customer_photos), context)
            return customer, MessageType.IMAGE, caption, _image_media(rng, None)
        if x < 0.11:
            return customer, MessageType.AUDIO, "", _audio_media(rng)
        if x < 0.13:
            return customer, MessageType.LOCATION, "", _customer_location(rng, self._profile)
        if x < 0.15 and lines.customer_videos:
            caption = _fill(rng.choice(lines.customer_videos), context)
            return customer, MessageType.VIDEO, caption, _video_media(rng, None)
        if fresh or x < 0.75:
            text = _fill(rng.choice(rng.choice(lines.topics).openers), context)
            if rng.random() < 0.35:
                # One message, not two: live messages arrive one at a time, so a greeting
                # alone would look like a customer who never got to the point.
                text = f"{_fill(rng.choice(script.neutral_greetings), context)} {text}"
        else:
            text = _fill(rng.choice(script.plain_questions), context)
        return customer, MessageType.TEXT, text, None

    def reply_to_agent(self, customer: DemoCustomer, agent_text: str) -> str | None:
        """The customer's answer to the agent's message, or None (about 40% of the time).

        The answer is in the customer's language and loosely fits the agent's words: a price
        gets "Fechado!", a time "Combinado!", thanks get thanks.
        """
        rng = self._rng
        if rng.random() < 0.4:
            return None
        language = "en" if customer.language == "en" else "pt"
        pool = _REACTIONS[language][_reaction_kind(agent_text)]
        call_name = _call_name(customer.name)
        thanks = "obrigada" if _gender_of(call_name) == "f" else "obrigado"
        if language == "en":
            thanks = "thanks"
        return _fill(
            rng.choice(pool),
            {"name": call_name, "obrigado": thanks, "Obrigado": thanks.capitalize()},
        )
