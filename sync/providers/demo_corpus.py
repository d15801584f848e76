"""The demo workspace's content: ten fictitious businesses, their customers and what they say.

Two consumers: ``sync/engine/demo_workspace.py`` loads a deterministic history from
``generate_history`` (the first three profiles, about 45,000 messages), and the benchmark loads
a million messages over all ten; ``sync/providers/demo.py`` keeps the demo alive while the app
runs through ``LiveCustomers``.

Content is written as *topics* (a reason to write: customer openers plus the agent replies that
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
# Lines every business shares
# ---------------------------------------------------------------------------------------------

# Greetings depend on the local time of day: nobody says "Boa noite" at 9 in the morning.
_GREETINGS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "pt": (
        (
            "Bom dia!",
            "Bom dia! 😊",
            "Bom diaa",
            "Oi, bom dia!",
            "Bom dia, tudo bem?",
            "Oi, tudo bem?",
            "Oii",
            "Olá!",
            "Oi {agent}, tudo bom?",
            "Oi de novo 😅",
        ),
        (
            "Boa tarde!",
            "Boa tarde, tudo bem?",
            "Oi, boa tarde!",
            "Boa tarde 😊",
            "Opa, boa tarde",
            "Oi, tudo bem?",
            "Oii",
            "Olá!",
            "Oi {agent}, tudo bom?",
            "Oi de novo 😅",
        ),
        (
            "Boa noite!",
            "Boa noite, vocês ainda estão atendendo?",
            "Oi, boa noite!",
            "Boa noite 🙏",
            "Oi, tudo bem?",
            "Oii",
            "Olá!",
            "Oi {agent}, tudo bom?",
        ),
    ),
    "en": (
        ("Good morning!", "Morning! 😊", "Hi!", "Hello!", "Hi there 👋", "Hi {agent}!"),
        (
            "Good afternoon!",
            "Hi, good afternoon",
            "Hi!",
            "Hello!",
            "Hi there 👋",
            "Hey, quick question",
        ),
        ("Good evening!", "Hi, are you still open?", "Hi!", "Hello!", "Hey, quick question"),
    ),
}

_COMMON: Final[dict[str, dict[str, tuple[Any, ...]]]] = {
    "pt": {
        "details": (
            "É pra {date}",
            "Seria pra retirar {date} às {time}",
            "Se der pra hoje melhor ainda 🙏",
            "Moro aqui pertinho",
            "Tô com um pouco de pressa, tá?",
            "Pode ser no Pix?",
        ),
        "qa": (
            ("Aceita Pix?", "Aceitamos sim! Pix, cartão e dinheiro 😊"),
            (
                "Qual a chave Pix?",
                "A chave Pix é este número mesmo 😊 Me manda o comprovante depois?",
            ),
            ("Qual o horário de funcionamento?", "Funcionamos {hours} 😊"),
            ("Vocês abrem {date}?", "Abrimos sim, {date} no horário normal 😊"),
            ("Tem como entregar?", "Entregamos sim! A taxa pro seu bairro fica R$ 8,00 🛵"),
            ("Dá pra parcelar no cartão?", "Parcelamos em até 3x sem juros 💳"),
            (
                "Vocês aceitam encomendas pelo WhatsApp?",
                "Aceitamos sim! É só me passar os detalhes por aqui que eu anoto 📝",
            ),
            (
                "Vocês aceitam encomendas pra {date}?",
                "Aceitamos! As encomendas pra {date} vão até amanhã às 18h 😉",
            ),
            (
                "Pode me mandar um orçamento por escrito?",
                "Mando sim! Já te envio o orçamento em PDF 📄",
            ),
            ("Qual o endereço de vocês?", "@loc"),
            ("Onde vocês ficam mesmo?", "@loc"),
            ("@loc", "Recebi sua localização 👍 Fica dentro da nossa área de entrega!"),
            ("@audio", "Ouvi seu áudio, {name}! Pode deixar que eu resolvo isso pra você 😊"),
            ("@audio", "Entendi tudo pelo áudio 😊 Te confirmo em instantes!"),
            ("Tem estacionamento aí?", "Tem vaga na rua e um estacionamento conveniado do lado 🚗"),
            (
                "Consigo retirar {date} às {time}?",
                "Consegue sim! Vai estar tudo separado te esperando",
            ),
            ("Vocês emitem nota fiscal?", "Emitimos sim, é só me passar o CPF ou CNPJ 🧾"),
            (
                "Quanto fica o total com a entrega?",
                "Com a entrega fica {price} + R$ 8,00 de taxa 😉",
            ),
            ("Tem desconto pra pagar à vista?", "No Pix ou dinheiro tem 5% de desconto 😊"),
            (
                "Posso mudar a data da encomenda pra {date}?",
                "Pode sim, {name}! Já alterei aqui: fica pra {date} 📅",
            ),
            (
                "Como fico sabendo que a encomenda foi confirmada?",
                "Assim que o sinal cair a gente confirma a encomenda #{order} por aqui ✅",
            ),
            ("Quanto ficou mesmo?", "Ficou {price}, {name} 😊"),
        ),
        "acks": (
            "Oba! 😍",
            "Que ótimo, {obrigado}!",
            "{Obrigado} por avisar!",
            "Beleza, passo aí {date} 👍",
            "Show! Vou aí às {time}",
            "Perfeito!",
            "Ah, que bom! 🙏",
            "Pode deixar",
            "Hoje não consigo, pode ser {date}?",
        ),
        "closings": (
            "Perfeito, {obrigado}! 🙏",
            "Fechado então!",
            "Combinado, até {date}!",
            "Ótimo! Muito {obrigado} pela atenção 😊",
            "Tá bom, valeu! 👍",
            "Beleza, {obrigado}!",
            "Show, {obrigado} 😊",
            "Maravilha! 🙏",
            "Ok, combinado",
            "{Obrigado}!! 😊",
            "Vou pensar e te aviso, tá?",
            "Valeu, até mais!",
            "Ah, entendi. {Obrigado} mesmo assim!",
            "Combinado! 👍",
        ),
        "agent_closings": (
            "Nós que agradecemos, {name}! 😊",
            "Qualquer coisa é só chamar!",
            "Até {date}! 👋",
            "Por nada! Estamos à disposição 🙏",
            "Imagina! Agradecemos a preferência 💛",
            "Disponha, {name}! 😉",
            "Combinado! Até mais 👋",
            "Tamo junto! 🙌",
        ),
        "holds": (
            "Só um minutinho que já vejo pra você 😊",
            "Um momento, por favor!",
            "Deixa eu verificar aqui e já te respondo",
            "Vou confirmar e já te falo!",
            "Oi {name}! Já já te respondo, tô finalizando um atendimento 🙏",
        ),
        "customer_photos": ("Olha aqui 👇", ""),
        "agent_photos": ("Olha só 👇",),
        "agent_openers": (
            (
                "Oi {name}! Tudo bem? Passando pra saber se deu tudo certo 😊",
                ("Deu tudo certo sim, {obrigado}!", "Tudo ótimo! 👏"),
            ),
            ("Oi {name}! Seu pedido #{order} está pronto 😊", ()),
        ),
    },
    "en": {
        "details": (
            "It's for {date}",
            "I'd pick it up {date} around {time}",
            "I'm staying nearby",
            "Today if possible 🙏",
            "I don't speak Portuguese, sorry! 😅",
        ),
        "qa": (
            ("Do you take credit cards?", "Yes: credit, debit, Pix and cash 😊"),
            ("What are your opening hours?", "We're open {hours} 😊"),
            ("Are you open {date}?", "Yes, {date} we're open as usual 😊"),
            ("Do you deliver?", "We do! Delivery to your area is R$8 🛵"),
            ("Can you send me your address?", "@loc"),
            ("Where exactly are you?", "@loc"),
            ("@loc", "Got your location 👍 That's within our delivery area!"),
            ("@audio", "Got your voice message, {name}! I'll sort it out 😊"),
            ("Can I pick it up {date} at {time}?", "Sure! It'll be ready and waiting for you"),
            (
                "Is there parking nearby?",
                "There's street parking and a paid lot right next door 🚗",
            ),
            ("Can you send me a quote in writing?", "Of course, sending the quote as a PDF 📄"),
            (
                "Do you take orders over WhatsApp?",
                "Yes! Just send me the details here and I'll write it down 📝",
            ),
            (
                "Can I pay with Pix? I have a Brazilian account",
                "Pix works great! Our key is this phone number 😊",
            ),
            ("How much is it in total?", "It comes to {price} 😊"),
        ),
        "acks": (
            "Great, thanks! 😊",
            "Awesome!",
            "Perfect, see you {date}",
            "Thanks for letting me know!",
            "On my way 🏃",
            "Can't make it today, is {date} ok?",
        ),
        "closings": (
            "Perfect, thank you! 🙏",
            "Great, thanks!",
            "Deal!",
            "Awesome, see you {date}!",
            "Thanks a lot 😊",
            "Sounds good 👍",
            "Ok, I'll think about it and let you know",
            "Cheers!",
            "Thank you so much!!",
            "Obrigado! 😄",
        ),
        "agent_closings": (
            "You're welcome, {name}! 😊",
            "Anytime! Just message us here",
            "See you {date}! 👋",
            "Thanks for choosing us 💛",
            "Have a great day! ☀️",
            "Obrigado, {name}! 🇧🇷",
        ),
        "holds": (
            "One moment please, let me check 😊",
            "Just a sec, checking for you!",
            "Hi {name}! I'll get back to you in a minute 🙏",
        ),
        "customer_photos": ("Like this one 👇", ""),
        "agent_photos": ("Here you go 👇",),
        "agent_openers": (
            (
                "Hi {name}! Just checking everything went well 😊",
                ("All good, thanks!", "Everything was perfect 👏"),
            ),
            ("Hi {name}! Your order #{order} is ready 😊", ()),
        ),
    },
}


def _script(
    language: str,
    *,
    topics: Sequence[Topic],
    details: Sequence[str] = (),
    qa: Sequence[tuple[str, str]] = (),
    agent_openers: Sequence[tuple[str, tuple[str, ...]]] = (),
    customer_photos: Sequence[str] = (),
    agent_photos: Sequence[str] = (),
    documents: Sequence[tuple[str, str]] = (),
    customer_videos: Sequence[str] = (),
    agent_videos: Sequence[str] = (),
) -> ScriptLines:
    """A business's lines merged with the shared ones.

    Business-specific lines are listed twice so that they outweigh the shared small talk: a
    bakery should sound like a bakery first and like any shop second.
    """
    common = _COMMON[language]

    def merged(own: Sequence[Any], key: str) -> tuple[Any, ...]:
        return tuple(own) * 2 + tuple(common[key])

    return ScriptLines(
        topics=tuple(topics),
        details=merged(details, "details"),
        qa=merged(qa, "qa"),
        agent_openers=merged(agent_openers, "agent_openers"),
        acks=tuple(common["acks"]),
        closings=tuple(common["closings"]),
        agent_closings=tuple(common["agent_closings"]),
        holds=tuple(common["holds"]),
        customer_photos=merged(customer_photos, "customer_photos"),
        agent_photos=merged(agent_photos, "agent_photos"),
        documents=tuple(documents),
        customer_videos=tuple(customer_videos),
        agent_videos=tuple(agent_videos),
    )


def _t(openers: Sequence[str], replies: Sequence[str], *qa: tuple[str, str]) -> Topic:
    return Topic(tuple(openers), tuple(replies), tuple(qa))


def _p(
    pt: str,
    pt_plural: str,
    gender: str,
    en: str,
    en_plural: str,
    price: float,
    quantity: tuple[int, int] = (1, 1),
) -> Product:
    return Product(pt, pt_plural, gender, en, en_plural, round(price * 100), quantity)


def _s(pt: str, gender: str, en: str, price: float) -> Product:
    return Product(pt, pt, gender, en, en, round(price * 100), (1, 1), service=True)


# ---------------------------------------------------------------------------------------------
# The businesses. The demo shows the first three; the benchmark loads all ten.
# ---------------------------------------------------------------------------------------------

_BAKERY = BusinessProfile(
    key="padaria",
    name="Padaria Pão Dourado",
    phone="+5511987412356",
    kind="bakery",
    address="Rua Cardeal Arcoverde, 1450 - Pinheiros, São Paulo",
    latitude=-23.561742,
    longitude=-46.682205,
    agents=("Bia", "Carla", "Manoel"),
    english_share=0.12,
    open_hours=(6.5, 20.0),
    hours=(
        "de segunda a sábado, das 6h às 20h, e domingo até o meio-dia",
        "Monday to Saturday 6 am to 8 pm, Sundays until noon",
    ),
    products=(
        _p(
            "bolo de chocolate",
            "bolos de chocolate",
            "m",
            "chocolate cake",
            "chocolate cakes",
            85,
            (1, 3),
        ),
        _p(
            "bolo de cenoura com cobertura",
            "bolos de cenoura com cobertura",
            "m",
            "carrot cake with chocolate frosting",
            "carrot cakes",
            65,
            (1, 2),
        ),
        _p(
            "pão de queijo",
            "pães de queijo",
            "m",
            "pão de queijo (cheese bread)",
            "pães de queijo (cheese breads)",
            2.5,
            (10, 60),
        ),
        _p(
            "cento de coxinha",
            "centos de coxinha",
            "m",
            "hundred coxinhas",
            "hundreds of coxinhas",
            60,
            (1, 4),
        ),
        _p("torta de limão", "tortas de limão", "f", "lime pie", "lime pies", 70, (1, 2)),
        _p(
            "sonho de creme",
            "sonhos de creme",
            "m",
            "custard doughnut",
            "custard doughnuts",
            7,
            (2, 12),
        ),
        _p("pão francês", "pães franceses", "m", "French roll", "French rolls", 0.9, (6, 30)),
        _p(
            "bolo de aniversário",
            "bolos de aniversário",
            "m",
            "birthday cake",
            "birthday cakes",
            160,
            (1, 2),
        ),
        _p(
            "kit café da manhã",
            "kits café da manhã",
            "m",
            "breakfast basket",
            "breakfast baskets",
            120,
            (1, 3),
        ),
        _p(
            "bolo de fubá sem açúcar",
            "bolos de fubá sem açúcar",
            "m",
            "sugar-free cornmeal cake",
            "sugar-free cornmeal cakes",
            55,
            (1, 2),
        ),
        _p(
            "pacote de café em grão",
            "pacotes de café em grão",
            "m",
            "bag of coffee beans",
            "bags of coffee beans",
            38,
            (1, 4),
        ),
        _p("brigadeiro", "brigadeiros", "m", "brigadeiro", "brigadeiros", 2.5, (25, 200)),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi! Queria encomendar {items} pra {date}, dá certo?",
                    "Vocês ainda estão aceitando encomendas pra {date}?",
                    "Quero fazer uma encomenda de {items} pra festa do meu filho 🎉",
                    "Preciso de um bolo de aniversário pra {date}, umas 20 pessoas. Vocês fazem?",
                ),
                (
                    "Dá certo sim, {name}! Pra {date} ainda temos vaga na agenda de encomendas 🙌 "
                    "O total fica {price}.",
                    "Anotei aqui: {items} pra {date}. O valor fica {price}, pode ser?",
                    "Estamos aceitando sim! Pra encomenda a gente pede 50% de sinal no Pix, tudo "
                    "bem? "
                    "O total fica {price}.",
                ),
                (
                    "Dá pra escrever 'Feliz aniversário, {other_name}' no bolo?",
                    "Escrevemos sim, sem custo nenhum 😊",
                ),
                (
                    "Pode ser metade chocolate, metade morango?",
                    "Pode sim, fica lindo meio a meio 😍",
                ),
                (
                    "Quanto tempo antes preciso fazer a encomenda?",
                    "Pra bolo a gente pede pelo menos 48 horas de antecedência 🎂",
                ),
                ("Tem vela de número também?", "Temos sim, R$ 6,00 cada 🕯️"),
            ),
            _t(
                (
                    "Vocês fazem bolo sem açúcar? Minha mãe é diabética",
                    "Tem alguma opção com menos açúcar? Tô de dieta 😅",
                    "O bolo de fubá sem açúcar ainda tem hoje?",
                ),
                (
                    "Temos sim! O bolo de fubá sem açúcar é adoçado com xilitol e fica R$ 55,00 😊",
                    "Fazemos sim, {name}! Os bolos sem açúcar precisam de encomenda com 1 dia de "
                    "antecedência",
                    "Tem sim! Também fazemos pão integral sem açúcar às terças e sextas 🍞",
                ),
                ("Leva adoçante? Qual?", "Leva xilitol, que não deixa gosto residual 😉"),
                (
                    "E o sem açúcar tem lactose?",
                    "Tem versão sem lactose também, é só avisar na encomenda",
                ),
            ),
            _t(
                (
                    "Tem pão de queijo quentinho agora? 😋",
                    "Que horas sai a fornada de pão francês?",
                    "Vocês têm {product} hoje?",
                ),
                (
                    "Acabou de sair uma fornada, {name}! Corre que tá quentinho 😋",
                    "A primeira fornada sai às 6h e a segunda às 16h 🥖",
                    "Temos sim! Quer que eu separe {items}? Fica {price}",
                ),
                (
                    "Separa {items} pra mim? Passo às {time}",
                    "Separado! Fica {price}, te espero às {time} 😊",
                ),
            ),
            _t(
                (
                    "Vocês vendem café em grão também?",
                    "O café de vocês é de onde? Amei o de ontem ☕",
                    "Vocês servem café da manhã aí na padaria?",
                ),
                (
                    "Vendemos sim! Café torrado aqui do bairro, pacote de 500 g por R$ 38,00 ☕",
                    "É um café especial do Sul de Minas, torra média 😊 Vendemos em grão ou moído",
                    "Servimos sim, das 6h30 às 11h: café, pão na chapa, ovos mexidos e suco 🍳",
                ),
                ("Vocês moem na hora pra coar?", "Moemos sim, é só pedir a moagem pra coador ☕"),
                (
                    "O café pra levar já vem com açúcar?",
                    "Todo café sai sem açúcar, você adoça como preferir 😉",
                ),
            ),
            _t(
                (
                    "Vocês fazem kit café da manhã pra presente? É aniversário da minha esposa 🎂",
                    "Queria mandar uma cesta de café da manhã pra minha mãe {date}",
                ),
                (
                    "Fazemos sim! O kit café da manhã tem pães, frutas, suco, café e bolo. Sai por "
                    "R$ 120,00 🎁",
                    "Fazemos! Entregamos a cesta até as 9h, com cartãozinho personalizado 💛",
                ),
                (
                    "Dá pra colocar um cartão com mensagem?",
                    "Dá sim! Me manda o texto que a gente escreve à mão ✍️",
                ),
                (
                    "O café vem na cesta mesmo ou só suco?",
                    "Vem sim! Café coado na hora, numa garrafinha térmica ☕",
                ),
            ),
            _t(
                (
                    "Quanto fica o cento de coxinha?",
                    "Vocês fazem salgadinhos pra festa? Preciso de {items}",
                    "Queria um orçamento de salgados e doces pra 50 pessoas",
                ),
                (
                    "O cento de coxinha sai R$ 60,00 e o de brigadeiro R$ 110,00 😊",
                    "Fazemos sim! {items} ficam {price}, fritos na hora ou congelados pra você "
                    "fritar",
                    "Te mando o orçamento completo! Pra 50 pessoas a gente sugere uns 600 salgados "
                    "e 200 doces",
                ),
                ("Vocês entregam os salgados quentinhos?", "Entregamos sim, em caixa térmica 🔥"),
                ("Dá pra pegar congelado?", "Dá! Congelado sai 15% mais barato"),
            ),
            _t(
                ("Queria saber se {o_product} tem glúten 🙏", "Vocês têm alguma coisa sem glúten?"),
                (
                    "{O_product} leva farinha de trigo, então tem glúten sim 😕 Mas temos bolo de "
                    "mandioca sem glúten!",
                    "Temos pão de queijo e bolo de mandioca, os dois sem glúten 😊 Só não "
                    "garantimos "
                    "ausência de traços",
                ),
            ),
        ),
        details=(
            "É pra umas 15 pessoas",
            "Se tiver com cobertura de brigadeiro melhor ainda 😍",
            "Pode ser com pouco açúcar?",
            "Ah, e sem lactose se possível",
            "É pra festa da firma, então precisa estar pronto cedo",
            "Seria pra retirar {date} às {time}",
        ),
        qa=(
            (
                "Vocês entregam? Moro aqui pertinho",
                "Entregamos num raio de 3 km, taxa de R$ 7,00 🛵",
            ),
            ("E quanto fica o cento de brigadeiro?", "O cento de brigadeiro sai R$ 110,00 🍫"),
            ("Tem café coado pra levar?", "Tem sim, copo de 300 ml por R$ 7,00 ☕"),
            (
                "Posso pagar o sinal da encomenda no Pix?",
                "Pode sim! Assim que cair eu confirmo a encomenda 😉",
            ),
        ),
        agent_openers=(
            (
                "Oi {name}! Sua encomenda #{order} já está pronta pra retirada 🎂",
                ("Oba! Passo aí às {time} 😍", "Que rápido! Já tô indo"),
            ),
            (
                "Oi {name}! Passando pra confirmar a encomenda de {items} pra {date}, tudo certo?",
                (
                    "Tudo certo sim, pode manter!",
                    "Confirmado! {Obrigado} por lembrar 🙏",
                    "Ih, posso mudar o dia?",
                ),
            ),
            (
                "Oi {name}, saiu fornada de pão de queijo agora! Quer que separe? 😋",
                ("Separa sim, {items}! 😋", "Hoje não, {obrigado}!"),
            ),
            ("Olá {name}! Esta semana o bolo de fubá sem açúcar está com 10% de desconto 😊", ()),
            (
                "Oi {name}! Chegou café novo do Sul de Minas, torra média ☕ Quer que reserve um "
                "pacote?",
                ("Quero sim! Reserva 2 pacotes", "Dessa vez não, mas {obrigado}!"),
            ),
        ),
        customer_photos=(
            "Queria um bolo parecido com esse 👇",
            "Dá pra fazer esse modelo?",
            "Vi esse no Instagram de vocês 😍",
        ),
        agent_photos=(
            "Foto do bolo 🎂",
            "Olha como ficou! 😍",
            "Fornada de agora 🥖",
            "Esse é o de cobertura de brigadeiro",
            "Kit café da manhã montado ☕🎁",
        ),
        documents=(
            ("cardapio_encomendas.pdf", "Segue nosso cardápio de encomendas 📋"),
            ("orcamento_{order}.pdf", "Segue o orçamento da festa 😊"),
            ("tabela_salgados.pdf", "Tabela de salgados e doces"),
        ),
        agent_videos=("Olha a fornada saindo 🔥",),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Do you deliver today?", "Do you deliver to hotels nearby?"),
                (
                    "We do! Delivery within 3 km is R$7, usually in about 40 minutes 🛵",
                    "Yes! Just send us the hotel name and your room number 😊",
                ),
            ),
            _t(
                ("Is the cake gluten-free?", "Do you have anything gluten-free?"),
                (
                    "The chocolate cake has wheat flour, so it isn't gluten-free 😕 Our cassava "
                    "cake "
                    "is, though!",
                    "Pão de queijo and our cassava cake are both gluten-free 😊",
                ),
            ),
            _t(
                (
                    "Can I order {items} for {date}?",
                    "I'd like to order a birthday cake for {date} 🎂",
                ),
                (
                    "Sure, {name}! That's {price} for {date} 😊",
                    "We'd love to! We ask for 50% upfront via Pix, and the total is {price}",
                ),
                (
                    "Can you write 'Happy birthday {other_name}' on it?",
                    "Of course, no extra charge 😊",
                ),
            ),
            _t(
                ("What time do you open tomorrow?", "Are you open on Sunday?"),
                ("We're open {hours} ☕",),
            ),
            _t(
                ("Do you have pão de queijo right now? 😋", "Do you sell coffee beans?"),
                (
                    "A fresh batch just came out! 😋",
                    "We do! Local specialty coffee, 500 g for R$38 ☕",
                ),
            ),
            _t(
                ("Do you have anything sugar-free?", "Is there sugar in the cornmeal cake?"),
                ("Yes! Our cornmeal cake is sugar-free, sweetened with xylitol 😊",),
            ),
        ),
        agent_openers=(
            ("Hi {name}! Your order #{order} is ready for pickup 🎂", ()),
            (
                "Hi {name}, just confirming your order for {date}, all good?",
                ("All good, thanks!", "Yes, confirmed 👍"),
            ),
        ),
        agent_photos=("Photo of the cake 🎂", "Fresh out of the oven 🥖"),
        documents=(("menu_english.pdf", "Here's our menu in English 📋"),),
    ),
)

_REPAIR = BusinessProfile(
    key="oficina",
    name="Oficina do Zé",
    phone="+5511976235418",
    kind="repair shop: phones, appliances and bikes",
    address="Rua Teodoro Sampaio, 2210 - Pinheiros, São Paulo",
    latitude=-23.566130,
    longitude=-46.691480,
    agents=("Zé", "Dani", "Rafa"),
    english_share=0.1,
    open_hours=(8.0, 18.5),
    hours=(
        "de segunda a sexta, das 8h às 18h, e sábado até as 13h",
        "Monday to Friday 8 am to 6 pm, Saturdays until 1 pm",
    ),
    products=(
        _s("troca de tela do iPhone 11", "f", "iPhone 11 screen replacement", 450),
        _s("troca de bateria do Moto G8", "f", "Moto G8 battery replacement", 180),
        _s("revisão da bike aro 29", "f", "full tune-up of a 29er bike", 120),
        _s("conserto da máquina de lavar", "m", "washing machine repair", 220),
        _s("limpeza do notebook", "f", "laptop cleaning", 150),
        _s("troca da câmara de ar", "f", "inner tube replacement", 40),
        _s("conserto do micro-ondas", "m", "microwave repair", 160),
        _s("regulagem dos freios da bike", "f", "bike brake adjustment", 35),
        _s(
            "troca do conector de carga do Galaxy A32",
            "f",
            "Galaxy A32 charging port replacement",
            140,
        ),
        _s("conserto da geladeira", "m", "fridge repair", 350),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi, vocês fazem {product}? Quanto fica?",
                    "Queria um orçamento pra {product}",
                    "Quanto sai {o_product}?",
                    "Me passa um orçamento de {product}, por favor?",
                ),
                (
                    "Fazemos sim! {O_product} fica {price}, com 90 dias de garantia 👍",
                    "Traz aqui que eu faço o orçamento na hora, sem compromisso 🔧",
                    "O orçamento {do_product} fica {price}, peça e mão de obra 👍",
                ),
                (
                    "A peça é original?",
                    "Trabalhamos com peça original ou compatível de primeira linha, você escolhe",
                ),
                ("Fica pronto até {date}?", "Fica sim! {date} depois das {time} pode buscar 👍"),
            ),
            _t(
                (
                    "Meu celular caiu e a tela trincou toda 😩 Vocês consertam?",
                    "A tela do meu celular tá com uma mancha preta e o touch não funciona",
                ),
                (
                    "Consertamos sim! Qual o modelo do aparelho?",
                    "Trocamos no mesmo dia, {name}. Me fala o modelo que te passo o orçamento 📱",
                ),
                ("É um iPhone 11", "A tela do iPhone 11 fica R$ 450,00 com película de brinde 😉"),
                (
                    "Vocês fazem backup das fotos antes?",
                    "Não precisa, seus dados ficam intactos na troca de tela 🔒",
                ),
                ("Demora quanto tempo?", "Umas 2 horas se a peça estiver em estoque"),
            ),
            _t(
                (
                    "Minha bike tá fazendo um barulho estranho na corrente 🚲",
                    "Vocês trocam pneu de bicicleta? Furou de novo 😤",
                    "Quanto fica uma revisão completa na bike?",
                ),
                (
                    "Provavelmente é a corrente seca ou o câmbio desregulado. Traz que a gente "
                    "olha 🔧",
                    "Trocamos sim! Câmara de ar R$ 40,00 instalada 🚲",
                    "A revisão completa sai R$ 120,00 com lavagem 🚲✨",
                ),
                ("Vocês têm pneu aro 29?", "Temos Pirelli e Levorin aro 29 a partir de R$ 110,00"),
                (
                    "Dá pra deixar {date} de manhã e pegar à tarde?",
                    "Dá sim! Deixa até as 10h que às 17h tá pronta",
                ),
            ),
            _t(
                (
                    "Caiu café com açúcar no teclado do notebook 😭 tem salvação?",
                    "Derramei café no notebook, ele desligou e não liga mais 😰",
                ),
                (
                    "Com café e açúcar tem que abrir logo pra limpar antes de oxidar! Desliga da "
                    "tomada e traz hoje se puder",
                    "Não tenta ligar! Traz aqui que a gente faz a limpeza, geralmente tem "
                    "salvação 🙏",
                ),
                (
                    "Quanto costuma ficar?",
                    "A limpeza fica R$ 150,00. Se tiver peça danificada, te passo o orçamento "
                    "antes "
                    "de mexer",
                ),
                ("Perco meus arquivos?", "Na maioria dos casos não, o SSD costuma sobreviver 😉"),
            ),
            _t(
                (
                    "A máquina de lavar não centrifuga mais, vocês atendem em casa?",
                    "O micro-ondas liga mas não esquenta, vale a pena consertar?",
                    "Minha geladeira parou de gelar ontem 😰",
                ),
                (
                    "Atendemos em casa sim, a visita técnica é R$ 80,00 e abate do conserto",
                    "Provavelmente é o magnetron. Peça + serviço dá uns R$ 160,00, vale a pena sim",
                    "Consigo mandar o técnico {date} de manhã, pode ser?",
                ),
                ("Qual a marca das peças?", "Usamos peça original da fabricante 👍"),
                (
                    "Pode vir {date} às {time}?",
                    "Agendado! O técnico chega entre {time} e uma hora depois 🚐",
                ),
            ),
            _t(
                (
                    "Vocês dão garantia no conserto?",
                    "E aí, Zé, meu aparelho já ficou pronto? Ordem #{order}",
                ),
                (
                    "Damos 90 dias de garantia em peça e mão de obra ✅",
                    "Deixa eu ver aqui a ordem #{order}... Fica pronto {date} 👍",
                ),
            ),
            _t(
                (
                    "Oi, meu celular não carrega mais, só se ficar mexendo no cabo",
                    "O celular tá esquentando muito e a bateria acaba rápido",
                ),
                (
                    "Pelo que você descreveu, deve ser o conector de carga. O orçamento fica uns "
                    "R$ 140,00",
                    "Parece bateria estufada, {name}. Melhor não usar até trocar! Fica R$ 180,00",
                ),
            ),
        ),
        details=(
            "É um Galaxy A32",
            "A bike é uma Caloi aro 29",
            "Comprei tem uns 3 anos",
            "Já levei em outro lugar e não resolveram 😤",
            "Posso levar aí {date}?",
            "É uma Brastemp de 11 kg",
            "Será que ainda tá na garantia? Comprei ano passado",
        ),
        qa=(
            (
                "Posso pagar metade agora e metade na retirada?",
                "Pode sim, metade no Pix agora e o resto na retirada",
            ),
            (
                "Tem como buscar aqui em casa?",
                "Buscamos e entregamos na região, taxa de R$ 15,00 🛵",
            ),
            (
                "Posso esperar aí enquanto vocês consertam?",
                "Pode sim! Tem café e Wi-Fi enquanto espera ☕",
            ),
            (
                "Vocês fazem orçamento sem compromisso?",
                "Fazemos! O orçamento é grátis, você só paga se aprovar 👍",
            ),
        ),
        agent_openers=(
            (
                "Oi {name}! O conserto ficou pronto, pode vir buscar 😊 Total: {price}",
                ("Oba! Passo aí {date}", "Que rápido! Vou aí às {time}"),
            ),
            (
                "{name}, a peça chegou! Consigo fazer {date}, tudo bem?",
                ("Pode ser sim!", "{date} não dá, pode ser outro dia?"),
            ),
            (
                "Oi {name}, tudo certo com o aparelho depois do conserto?",
                (
                    "Tudo ótimo, {obrigado}! 👏",
                    "Tá funcionando perfeito!",
                    "Tá ótimo, mas a bateria ainda acaba rápido 😕",
                ),
            ),
            (
                "Oi {name}! O orçamento #{order} ficou em {price}. Posso seguir com o conserto?",
                ("Pode seguir!", "Vou pensar e te falo", "Ficou caro 😕 faz por menos?"),
            ),
        ),
        customer_photos=(
            "Olha como ficou a tela 😩",
            "Foto da etiqueta da máquina",
            "É essa peça aqui",
        ),
        agent_photos=(
            "Peça nova instalada ✅",
            "Foi isso que encontramos dentro 😬",
            "Bike revisada e lavada 🚲✨",
            "Placa limpa, sem oxidação 👍",
        ),
        documents=(
            ("orcamento_{order}.pdf", "Segue o orçamento detalhado 📄"),
            ("garantia_{order}.pdf", "Termo de garantia do serviço"),
            ("nota_fiscal_{order}.pdf", "Nota fiscal 🧾"),
        ),
        customer_videos=("Gravei o barulho que ela faz 🎥", "Olha o que acontece quando ligo"),
        agent_videos=("Funcionando de novo ✅",),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                (
                    "Hi! My phone screen cracked, can you fix it today?",
                    "How much for the {product}?",
                ),
                (
                    "Bring it over and I'll give you a quote on the spot, no charge 🔧",
                    "It's {price} with a 90-day warranty 👍",
                ),
            ),
            _t(
                (
                    "Hi! I rented a bike and the chain keeps falling off 🚲",
                    "Do you fix bikes? I've got a flat tire",
                ),
                (
                    "Sounds like the derailleur needs adjusting. Bring it over and we'll take a "
                    "look 🔧",
                    "Sure! Bring it in, we fix flats in 15 minutes 🚲",
                ),
            ),
            _t(
                ("I spilled coffee on my laptop 😭 can you help?",),
                (
                    "Unplug it and don't turn it on! Bring it today and we'll clean it before it "
                    "corrodes",
                ),
            ),
        ),
        qa=(
            ("How long will it take?", "About 2 hours if we have the part in stock"),
            ("Do you give a warranty?", "90 days on parts and labour ✅"),
        ),
        agent_openers=(
            ("Hi {name}! Your repair is done, you can pick it up anytime 😊 Total: {price}", ()),
            (
                "Hi {name}, the part arrived! Can you bring the device {date}?",
                ("Sure, see you then!",),
            ),
        ),
        customer_photos=("This is the damage 😩",),
        documents=(("quote_{order}.pdf", "Here's the quote 📄"),),
    ),
)

_CLOTHING = BusinessProfile(
    key="flor_de_lis",
    name="Loja Flor de Lis",
    phone="+5511958741230",
    kind="clothing store",
    address="Rua Oscar Freire, 830 - Jardins, São Paulo",
    latitude=-23.563640,
    longitude=-46.670410,
    agents=("Lis", "Carol", "Vanessa"),
    english_share=0.1,
    open_hours=(9.0, 19.5),
    hours=("de segunda a sábado, das 9h às 19h", "Monday to Saturday, 9 am to 7 pm"),
    extras=(
        (
            "size",
            ("PP", "P", "M", "G", "GG", "38", "40", "42", "44"),
            ("XS", "S", "M", "L", "XL", "38", "40", "42", "44"),
        ),
        (
            "color",
            (
                "preta",
                "off-white",
                "café",
                "verde-oliva",
                "terracota",
                "azul-marinho",
                "vinho",
                "rosa",
            ),
            (
                "black",
                "off-white",
                "coffee brown",
                "olive green",
                "terracotta",
                "navy",
                "burgundy",
                "pink",
            ),
        ),
    ),
    products=(
        _p(
            "vestido midi floral",
            "vestidos midi florais",
            "m",
            "floral midi dress",
            "floral midi dresses",
            189.9,
            (1, 2),
        ),
        _p(
            "calça jeans wide leg",
            "calças jeans wide leg",
            "f",
            "pair of wide-leg jeans",
            "pairs of wide-leg jeans",
            159.9,
            (1, 2),
        ),
        _p(
            "blusa de linho", "blusas de linho", "f", "linen blouse", "linen blouses", 119.9, (1, 3)
        ),
        _p(
            "saia plissada",
            "saias plissadas",
            "f",
            "pleated skirt",
            "pleated skirts",
            129.9,
            (1, 2),
        ),
        _p(
            "cardigan de tricô",
            "cardigans de tricô",
            "m",
            "knit cardigan",
            "knit cardigans",
            149.9,
            (1, 2),
        ),
        _p(
            "macacão de linho", "macacões de linho", "m", "linen jumpsuit", "linen jumpsuits", 199.9
        ),
        _p(
            "camisa social",
            "camisas sociais",
            "f",
            "button-down shirt",
            "button-down shirts",
            129.9,
            (1, 3),
        ),
        _p(
            "conjunto de moletom",
            "conjuntos de moletom",
            "m",
            "sweatsuit set",
            "sweatsuit sets",
            219.9,
            (1, 2),
        ),
        _p("biquíni", "biquínis", "m", "bikini", "bikinis", 99.9, (1, 3)),
        _p("bolsa de palha", "bolsas de palha", "f", "straw bag", "straw bags", 89.9, (1, 2)),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi! Ainda tem {product} no tamanho {size}?",
                    "Tem {product} na cor {color}? Uso {size}",
                    "Vi no Instagram {o_product} na cor {color}, ainda tem?",
                ),
                (
                    "Tem sim, {name}! No {size} ainda temos 2 peças 😍 Sai {price}",
                    "Temos na cor {color} sim! Quer que eu separe?",
                    "No {size} acabou 😕 mas chega reposição {date}!",
                ),
                ("Dá pra separar pra eu buscar {date}?", "Separado no seu nome até {date} 🛍️"),
                (
                    "Manda foto de como fica no corpo? 🙏",
                    "Mando sim! Um minutinho que peço pra menina vestir 📸",
                ),
                ("Qual o tecido?", "É 100% algodão, bem fresquinho 😊"),
            ),
            _t(
                (
                    "Queria trocar uma blusa que ganhei, ficou pequena 😅 Como funciona a troca?",
                    "Comprei {um_product} e não serviu, posso trocar?",
                    "A calça ficou comprida, vocês fazem barra?",
                ),
                (
                    "Oi {name}! A troca pode ser feita em até 30 dias com a etiqueta, é só "
                    "trazer na "
                    "loja 😊",
                    "Pode trocar sim! Traz com a nota ou o número do pedido #{order}",
                    "Fazemos barra sim, fica pronta em 2 dias e custa R$ 20,00 ✂️",
                ),
                (
                    "Tem que ser na mesma peça?",
                    "Não! Pode trocar por qualquer peça da loja, e se der diferença a gente acerta",
                ),
                (
                    "Perdi a etiqueta 😬 ainda dá?",
                    "Com a nota fiscal a gente consegue trocar sim 😉",
                ),
            ),
            _t(
                (
                    "Qual a diferença de tamanho entre o M e o G?",
                    "Tenho 1,65 m e uns 62 kg, qual tamanho você indica?",
                ),
                (
                    "Te mando a tabela de medidas! O M tem 96 cm de busto e o G 102 cm",
                    "Pra você eu indicaria o {size} 😊 Nossa modelagem é um pouco justa",
                ),
            ),
            _t(
                (
                    "Oi, fiz uma compra pelo site e ainda não chegou, pedido #{order}",
                    "Meu pedido #{order} tá aparecendo como 'em separação' faz 3 dias 😕",
                ),
                (
                    "Vou verificar o pedido #{order} aqui, {name}",
                    "Seu pedido #{order} saiu pra entrega, chega {date} 🚚",
                    "Desculpa a demora, {name}! O pedido #{order} foi postado hoje 📦",
                ),
                (
                    "Tem código de rastreio?",
                    "Tem sim! Te mando por aqui assim que os Correios atualizarem 📦",
                ),
            ),
            _t(
                (
                    "Chegou coleção nova? 😍",
                    "Vocês fazem encomenda de tamanho especial?",
                    "Vocês entregam {date}? Preciso do vestido pra um casamento 💍",
                ),
                (
                    "Chegou sim! Coleção de inverno, com cardigan de tricô lindo 😍",
                    "Fazemos encomenda de tamanhos especiais, fica pronta em 10 dias",
                    "Entregamos sim! Motoboy no mesmo dia pra pedidos até 15h 🛵",
                ),
            ),
            _t(
                ("Quanto está {o_product}?", "{O_product} entrou na promoção?"),
                (
                    "{O_product} está {price} 😊 e parcela em até 6x sem juros",
                    "Entrou sim! Está com 20% de desconto até domingo 🔥",
                ),
            ),
        ),
        details=(
            "É pra presente 🎁",
            "Ainda está com etiqueta",
            "Preciso até {date}",
            "Se tiver na cor {color} melhor",
            "Uso {size} normalmente",
            "É pra um casamento de dia 💍",
        ),
        qa=(
            ("Aceita cartão em 3x?", "Parcelamos em até 6x sem juros 💳"),
            ("Tem provador aí?", "Temos sim, pode vir provar à vontade 😊"),
            ("Vocês embrulham pra presente?", "Embrulhamos sim, sem custo 🎁"),
            ("Tem {size} também?", "Tem sim, separo os dois pra você provar?"),
        ),
        agent_openers=(
            (
                "Oi {name}! Chegou {product} na cor {color} que você pediu 😍",
                ("Aaah que bom! Passo aí {date}", "Separa pra mim, por favor!"),
            ),
            ("{name}, sua encomenda do tamanho especial ficou pronta! 🛍️", ()),
            (
                "Oi {name}! Amanhã começa nossa liquidação, 30% off em toda a loja 🔥",
                ("Opa! Amanhã tô aí 😍", "Adorei, vou passar!"),
            ),
            (
                "Oi {name}, o seu pedido #{order} foi postado! O código de rastreio vai por "
                "e-mail 📦",
                ("{Obrigado}!! 😊",),
            ),
        ),
        customer_photos=(
            "Essa aqui, ainda tem?",
            "Vi essa no story de vocês 😍",
            "Foto da etiqueta",
            "Olha como ficou a barra 😕",
        ),
        agent_photos=(
            "Olha ela no corpo 😍",
            "Tem nessas cores 👇",
            "Chegou hoje! ✨",
            "Provador da loja 📸",
        ),
        documents=(
            ("tabela_de_medidas.pdf", "Tabela de medidas 📏"),
            ("catalogo_inverno.pdf", "Catálogo da coleção nova"),
            ("comprovante_troca_{order}.pdf", "Comprovante da troca 🧾"),
        ),
        agent_videos=("Vídeo do vestido no corpo 🎥",),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                (
                    "Hi! Do you have the {product} in size {size}?",
                    "Is the {product} available in {color}?",
                ),
                (
                    "We do! Size {size} is {price} 😊",
                    "Yes, we have it in {color}! Want me to hold one for you?",
                ),
            ),
            _t(
                ("Can I exchange a dress I bought? It's too small",),
                ("Sure! Exchanges within 30 days with the tag on 😊",),
            ),
            _t(
                ("Do you ship to Portugal?", "Do you ship abroad?"),
                ("We ship internationally via Correios, it takes about 15 days 📦",),
            ),
            _t(("Is the {product} made of cotton?",), ("It's 100% cotton, very breathable 😊",)),
        ),
        agent_openers=(
            ("Hi {name}! The {product} in {color} you asked about just arrived 😍", ()),
        ),
        agent_photos=("This is how it looks on 😍",),
        documents=(("size_chart.pdf", "Size chart 📏"),),
    ),
)

_PHARMACY = BusinessProfile(
    key="farmacia",
    name="Farmácia Vida & Saúde",
    phone="+5511963207415",
    kind="pharmacy",
    address="Avenida Paulista, 1900 - Bela Vista, São Paulo",
    latitude=-23.560880,
    longitude=-46.657900,
    agents=("Renata", "Paulo", "Sueli"),
    english_share=0.08,
    open_hours=(7.0, 23.0),
    hours=("todos os dias, das 7h às 23h", "every day from 7 am to 11 pm"),
    products=(
        _p(
            "caixa de dipirona 1 g",
            "caixas de dipirona 1 g",
            "f",
            "box of dipyrone 1 g",
            "boxes of dipyrone 1 g",
            8.9,
            (1, 3),
        ),
        _p(
            "protetor solar FPS 50",
            "protetores solares FPS 50",
            "m",
            "SPF 50 sunscreen",
            "bottles of SPF 50 sunscreen",
            69.9,
            (1, 2),
        ),
        _p(
            "pacote de fralda geriátrica",
            "pacotes de fralda geriátrica",
            "m",
            "pack of adult diapers",
            "packs of adult diapers",
            54.9,
            (1, 4),
        ),
        _p(
            "vitamina D 2.000 UI",
            "frascos de vitamina D 2.000 UI",
            "f",
            "vitamin D 2,000 IU",
            "bottles of vitamin D 2,000 IU",
            39.9,
            (1, 2),
        ),
        _p(
            "medidor de glicose",
            "medidores de glicose",
            "m",
            "glucose meter",
            "glucose meters",
            89.9,
        ),
        _p(
            "caixa de fitas de glicemia",
            "caixas de fitas de glicemia",
            "f",
            "box of glucose test strips",
            "boxes of glucose test strips",
            74.9,
            (1, 3),
        ),
        _p(
            "xarope sem açúcar",
            "frascos de xarope sem açúcar",
            "m",
            "sugar-free cough syrup",
            "bottles of sugar-free cough syrup",
            27.9,
            (1, 2),
        ),
        _p(
            "teste de gravidez",
            "testes de gravidez",
            "m",
            "pregnancy test",
            "pregnancy tests",
            19.9,
            (1, 2),
        ),
        _p(
            "soro fisiológico 500 ml",
            "frascos de soro fisiológico",
            "m",
            "saline solution 500 ml",
            "bottles of saline solution",
            9.9,
            (1, 4),
        ),
        _p(
            "repelente infantil",
            "repelentes infantis",
            "m",
            "kids' insect repellent",
            "bottles of kids' insect repellent",
            34.9,
            (1, 2),
        ),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                ("Vocês estão abertos agora?", "Vocês abrem domingo?"),
                (
                    "Estamos abertos sim! Funcionamos {hours} 😊",
                    "Abrimos sim, {name}! Domingo também, das 7h às 23h",
                ),
            ),
            _t(
                ("Tem {product}?", "Quanto está {o_product}?", "Vocês têm {product} em estoque?"),
                (
                    "Temos sim! {O_product} está {price}",
                    "Tem sim, {name}! Quer que separe {items}? Fica {price}",
                    "Temos a de marca e a genérica, que sai mais em conta 😉",
                ),
                ("Tem genérico?", "Tem sim, o genérico sai uns 40% mais barato"),
                ("Separa pra mim? Passo às {time}", "Separado no seu nome 👍"),
            ),
            _t(
                (
                    "Vocês entregam remédio em casa? Tô sem conseguir sair 🤒",
                    "Dá pra entregar {items} hoje?",
                ),
                (
                    "Entregamos sim! Motoboy em até 1 hora, taxa de R$ 5,00 🛵",
                    "Entregamos! Me passa o endereço e a forma de pagamento 😊",
                ),
                ("Pode mandar a maquininha?", "Pode deixar, o motoboy leva a maquininha 💳"),
            ),
            _t(
                (
                    "Tem xarope sem açúcar pra tosse? Sou diabético",
                    "Preciso de fita de glicemia, qual marca vocês têm?",
                    "O medidor de glicose de vocês é bom? Minha mãe precisa medir o açúcar todo "
                    "dia",
                ),
                (
                    "Temos xarope sem açúcar sim, {name}! Fica R$ 27,90",
                    "Temos Accu-Chek e On Call Plus 😊 A caixa com 50 fitas sai R$ 74,90",
                    "É ótimo e bem fácil de usar! Vem com 10 fitas e lancetas. Sai R$ 89,90",
                ),
                ("Precisa de receita?", "Pra esse não precisa receita 😊"),
                (
                    "Pelo Farmácia Popular sai de graça?",
                    "Sai sim! Só trazer receita, CPF e documento com foto",
                ),
            ),
            _t(
                ("Aceitam receita pelo WhatsApp?", "Posso mandar foto da receita?"),
                (
                    "Pode mandar a foto, a farmacêutica confere e a gente separa 😊",
                    "Pra antibiótico precisamos da receita original na entrega, tá?",
                ),
            ),
            _t(
                (
                    "Vocês medem pressão aí?",
                    "Vocês aplicam vacina da gripe?",
                    "Tem aplicação de injeção?",
                ),
                (
                    "Medimos sim, é gratuito! É só chegar 😊",
                    "Aplicamos! A vacina da gripe está R$ 89,90, sem agendamento",
                    "Aplicamos injeção com receita, das 8h às 22h 💉",
                ),
            ),
            _t(
                (
                    "Vocês fazem encomenda de remédio manipulado?",
                    "Quanto tempo demora uma encomenda de manipulado?",
                ),
                (
                    "Fazemos sim! Manda a receita que te passo o orçamento 📄",
                    "A encomenda de manipulado fica pronta em 2 dias úteis",
                ),
            ),
        ),
        details=(
            "É pro meu pai, ele tem 82 anos",
            "Tenho receita",
            "Moro na rua de trás",
            "É urgente 🙏",
            "Se tiver genérico melhor",
        ),
        qa=(
            ("Tem desconto pra idoso?", "Tem sim! 10% pra maiores de 60 com o cadastro 😊"),
            ("Vocês aceitam convênio?", "Aceitamos os principais convênios, me fala qual é o seu"),
        ),
        agent_openers=(
            (
                "Oi {name}! Chegou {o_product} que você encomendou 😊",
                ("Que ótimo, passo aí {date}",),
            ),
            (
                "Oi {name}, tá na hora de renovar o seu medicamento de uso contínuo. Quer que "
                "separe? 💊",
                ("Separa sim, por favor!", "Ainda tenho, {obrigado} por lembrar 🙏"),
            ),
            ("Olá {name}! A campanha de vacinação da gripe começou, vacina sem fila 💉", ()),
        ),
        customer_photos=(
            "Foto da receita 📄",
            "É esse aqui que eu preciso",
            "A caixa do remédio que acabou",
        ),
        agent_photos=("Esse é o genérico 👇", "Temos esses dois 😊"),
        documents=(
            ("cupom_fiscal_{order}.pdf", "Segue o cupom fiscal 🧾"),
            ("orcamento_manipulado_{order}.pdf", "Orçamento do manipulado 📄"),
        ),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Do you have something for a sore throat?",),
                ("We have lozenges and a sugar-free syrup, no prescription needed 😊",),
            ),
            _t(("Do you have {product}?",), ("Yes! It's {price} 😊",)),
            _t(
                ("Do you deliver to hotels?",),
                ("We do! Just send us the hotel name and room number 🛵",),
            ),
            _t(
                ("Is there a pharmacist who speaks English?",),
                ("Sure, I can help you in English 😊 What do you need?",),
            ),
        ),
        customer_photos=("This is the medicine I take at home",),
        documents=(("receipt_{order}.pdf", "Your receipt 🧾"),),
    ),
)

_PET_SHOP = BusinessProfile(
    key="pet_shop",
    name="Pet Shop Bicho Feliz",
    phone="+5511945127836",
    kind="pet shop",
    address="Rua Voluntários da Pátria, 3100 - Santana, São Paulo",
    latitude=-23.499320,
    longitude=-46.625870,
    agents=("Gabi", "Léo", "Dra. Helena"),
    english_share=0.08,
    open_hours=(8.0, 19.0),
    hours=("de segunda a sábado, das 8h às 19h", "Monday to Saturday, 8 am to 7 pm"),
    extras=(
        (
            "pet",
            (
                "Thor",
                "Mel",
                "Pipoca",
                "Luna",
                "Bidu",
                "Nina",
                "Paçoca",
                "Frida",
                "Bob",
                "Amora",
                "Fred",
                "Chico",
            ),
            ("Max", "Bella", "Charlie", "Luna", "Rocky", "Daisy", "Milo", "Coco"),
        ),
        (
            "breed",
            (
                "shih-tzu",
                "vira-lata",
                "golden",
                "yorkshire",
                "gato persa",
                "lhasa",
                "spitz",
                "border collie",
            ),
            (
                "shih tzu",
                "mutt",
                "golden retriever",
                "yorkie",
                "Persian cat",
                "lhasa apso",
                "pomeranian",
                "border collie",
            ),
        ),
    ),
    products=(
        _s("banho e tosa", "m", "bath and grooming", 80),
        _p(
            "saco de ração premium 15 kg",
            "sacos de ração premium 15 kg",
            "m",
            "15 kg bag of premium dog food",
            "15 kg bags of premium dog food",
            219.9,
            (1, 2),
        ),
        _p("antipulgas", "antipulgas", "m", "flea treatment", "flea treatments", 89.9, (1, 3)),
        _s("vacina V10", "f", "V10 vaccine", 90),
        _p("caminha média", "caminhas médias", "f", "medium pet bed", "medium pet beds", 129.9),
        _p("arranhador", "arranhadores", "m", "cat scratching post", "cat scratching posts", 159.9),
        _p(
            "pacote de petisco natural",
            "pacotes de petisco natural",
            "m",
            "bag of natural treats",
            "bags of natural treats",
            24.9,
            (1, 4),
        ),
        _p(
            "saco de areia sanitária",
            "sacos de areia sanitária",
            "m",
            "bag of cat litter",
            "bags of cat litter",
            32.9,
            (1, 4),
        ),
        _s("consulta veterinária", "f", "vet appointment", 150),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi! Tem horário pra banho e tosa {date}? É um {breed} 🐶",
                    "Queria agendar um banho {date} às {time}. O nome do pet é {pet} 🐶",
                ),
                (
                    "Tem sim! {date} às {time} fica bom? Banho e tosa sai {price}",
                    "Agendado! {pet} vai sair daqui um charme 🛁🐶",
                    "Pra {date} só tenho às {time}, pode ser?",
                ),
                ("Vocês buscam em casa?", "Temos leva e traz! R$ 15,00 no bairro 🚐"),
                ("Pode cortar a unha também?", "Corte de unha já está incluso 😊"),
                (
                    "Vocês usam perfume? {pet} tem alergia",
                    "Sem problema, usamos shampoo hipoalergênico e sem perfume 🐾",
                ),
            ),
            _t(
                (
                    "Vocês entregam ração?",
                    "Quanto está {o_product}?",
                    "Tem a ração Golden pra filhote?",
                ),
                (
                    "Entregamos sim! Acima de R$ 150,00 a entrega é grátis 🛵",
                    "{O_product} está {price} 😊",
                    "Temos sim, o saco de 15 kg sai R$ 219,90",
                ),
                ("Tem desconto no pacote maior?", "No saco de 15 kg sai 12% mais em conta 😉"),
            ),
            _t(
                (
                    "Esse petisco de vocês tem açúcar? O veterinário pediu pra evitar",
                    "Tem petisco natural sem açúcar e sem corante?",
                ),
                (
                    "O nosso petisco natural é só carne desidratada, sem açúcar e sem "
                    "conservante 🦴",
                    "Temos sim! Biscoito de batata-doce sem açúcar, o pacote sai R$ 24,90",
                ),
            ),
            _t(
                (
                    "Vocês vacinam gato?",
                    "Quanto fica a vacina V10?",
                    "Meu cachorro tá vomitando desde ontem, tem veterinário hoje? 😟",
                ),
                (
                    "Vacinamos sim, {name}! A V10 fica R$ 90,00 e a antirrábica R$ 60,00",
                    "A veterinária atende hoje até as 18h. Traz ele o quanto antes 🙏",
                    "Temos a Dra. Helena de segunda a sexta, consulta R$ 150,00",
                ),
            ),
            _t(
                ("Vocês fazem hotelzinho? Vou viajar {date}",),
                ("Fazemos sim! A diária sai R$ 70,00 com passeio e muito carinho 🐶💛",),
                (
                    "Precisa levar a ração?",
                    "Melhor trazer a ração de costume pra não mudar a dieta",
                ),
            ),
        ),
        details=(
            "O nome é {pet}",
            "É bem agitado, tá?",
            "Tem 8 anos",
            "Tem medo de secador 😅",
            "É filhote ainda, 4 meses",
        ),
        qa=(
            ("Quanto tempo demora o banho?", "Mais ou menos 1 hora e meia 🛁"),
            ("Posso acompanhar o banho?", "Pode sim, a gente manda foto pelo WhatsApp 📸"),
        ),
        agent_openers=(
            (
                "Oi {name}! O banho de {pet} terminou, pode vir buscar 🛁🐶",
                ("Oba! Tô indo", "Passo aí às {time}"),
            ),
            (
                "Oi {name}! Tá chegando a hora do reforço da vacina de {pet} 💉 Quer agendar?",
                ("Quero sim! Pode ser {date}?", "Vou ver e te aviso"),
            ),
            ("Oi {name}, chegou a ração que você encomendou 🐾", ()),
            ("Olá {name}! Essa semana o banho e tosa está com 15% de desconto 🐩", ()),
        ),
        customer_photos=(
            "Olha que fofura 😍",
            "Foto da ração que ele come",
            "Olha essa manchinha na pele 😟",
            "Depois do banho de vocês 🥰",
        ),
        agent_photos=("{pet} depois do banho 🛁😍", "Prontinho! ✨", "Olha a ração que temos 👇"),
        documents=(
            ("carteira_vacinacao_{order}.pdf", "Carteirinha de vacinação atualizada 💉"),
            ("orcamento_{order}.pdf", "Orçamento do hotelzinho 🐶"),
        ),
        customer_videos=("Olha como ele tá mancando 😟",),
        agent_videos=("{pet} brincando aqui no hotelzinho 🐶",),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Do you do grooming for small dogs?", "Can I book a bath for {pet} {date}?"),
                (
                    "We do! Bath and grooming for small dogs is R$80 🐶",
                    "Booked! {date} at {time} 🛁",
                ),
            ),
            _t(
                ("Do you sell cat litter?", "Do you have {product}?"),
                ("Yes! {price} 😊", "We do, and we deliver for free above R$150 🛵"),
            ),
            _t(
                ("My dog has a rash, is there a vet today?",),
                ("Our vet is in until 6 pm today, bring the dog in 🙏",),
            ),
        ),
        agent_photos=("{pet} after the bath 🛁😍",),
    ),
)

_FLORIST = BusinessProfile(
    key="floricultura",
    name="Floricultura Jardim Secreto",
    phone="+5511932584617",
    kind="florist",
    address="Alameda dos Maracatins, 500 - Moema, São Paulo",
    latitude=-23.605910,
    longitude=-46.667930,
    agents=("Marina", "Tati"),
    english_share=0.1,
    open_hours=(8.0, 19.0),
    hours=(
        "de segunda a sábado, das 8h às 19h, e domingo até as 13h",
        "Monday to Saturday 8 am to 7 pm, Sundays until 1 pm",
    ),
    products=(
        _p(
            "buquê de rosas vermelhas",
            "buquês de rosas vermelhas",
            "m",
            "bouquet of red roses",
            "bouquets of red roses",
            180,
            (1, 2),
        ),
        _p(
            "arranjo de girassóis",
            "arranjos de girassóis",
            "m",
            "sunflower arrangement",
            "sunflower arrangements",
            130,
            (1, 3),
        ),
        _p("orquídea", "orquídeas", "f", "orchid", "orchids", 95, (1, 3)),
        _p("coroa de flores", "coroas de flores", "f", "funeral wreath", "funeral wreaths", 350),
        _p(
            "cesta de café da manhã com flores",
            "cestas de café da manhã com flores",
            "f",
            "breakfast basket with flowers",
            "breakfast baskets with flowers",
            220,
        ),
        _p("buquê de noiva", "buquês de noiva", "m", "bridal bouquet", "bridal bouquets", 450),
        _p(
            "vaso de suculentas",
            "vasos de suculentas",
            "m",
            "pot of succulents",
            "pots of succulents",
            45,
            (1, 4),
        ),
        _p(
            "arranjo de mesa",
            "arranjos de mesa",
            "m",
            "table centrepiece",
            "table centrepieces",
            90,
            (2, 20),
        ),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Vocês entregam {product} hoje ainda?",
                    "Quero mandar {um_product} pra minha esposa {date} 🌹",
                    "Dá pra entregar flores no hospital?",
                ),
                (
                    "Entregamos sim! Pedidos até 16h saem no mesmo dia 🌷",
                    "Que lindo! O total fica {price} com a entrega 💐",
                    "Entregamos sim, só precisamos do nome do paciente e do quarto 🏥",
                ),
                (
                    "Dá pra colocar um cartão?",
                    "Dá sim! Me manda a mensagem que a gente escreve à mão 💌",
                ),
                (
                    "Pode ser surpresa? Sem falar quem mandou",
                    "Pode! Mandamos o cartão sem assinatura 🤫",
                ),
            ),
            _t(
                (
                    "Queria um orçamento pra decoração de casamento 💍",
                    "Vocês fazem buquê de noiva? Caso {date}",
                    "Preciso de {items} pra um evento. Consegue me passar um orçamento?",
                ),
                (
                    "Fazemos sim! Me conta a data, o local e as cores que te mando o orçamento 😊",
                    "Parabéns pelo casamento, {name}! 💐 O buquê de noiva começa em R$ 450,00",
                    "Consigo sim! O total fica {price}. Te mando o orçamento em PDF",
                ),
                ("Vocês montam no local?", "Montamos sim, a equipe chega 3 horas antes do evento"),
                ("Dá pra usar flores do campo?", "Dá! Fica lindo e sai até mais em conta 🌼"),
            ),
            _t(
                ("Preciso de uma coroa de flores pra um velório hoje 😔",),
                (
                    "Sinto muito pela perda, {name} 🙏 Conseguimos entregar em 2 horas. A coroa "
                    "fica "
                    "R$ 350,00",
                    "Meus sentimentos. Me passa o local do velório e o texto da faixa que já "
                    "providencio",
                ),
                (
                    "Pode escrever 'Saudades eternas da família'?",
                    "Pode sim, a faixa vai com esse texto 🙏",
                ),
            ),
            _t(
                (
                    "Vocês fazem cesta de café da manhã com flores?",
                    "Queria uma cesta de café da manhã pro aniversário da minha mãe 🎂",
                ),
                (
                    "Fazemos sim! A cesta leva café, pães, frutas, bolo e um arranjo de flores. "
                    "Sai "
                    "R$ 220,00 ☕💐",
                    "Temos! Entregamos até as 9h pra ser surpresa 💛",
                ),
                (
                    "A cesta pode ser sem açúcar? Ela é diabética",
                    "Pode sim, montamos com bolo e geleia sem açúcar 😊",
                ),
            ),
            _t(
                (
                    "Como cuido de orquídea? A minha tá murchando 😢",
                    "Vocês têm suculentas pequenas pra lembrancinha?",
                ),
                (
                    "Rega só uma vez por semana e deixa em luz indireta 🌸 Se quiser, traz aqui "
                    "que a "
                    "gente dá uma olhada",
                    "Temos! Vaso de suculenta pequeno sai R$ 12,00 cada, acima de 30 fazemos por "
                    "R$ 10,00",
                ),
            ),
        ),
        details=(
            "É aniversário de namoro 🥰",
            "Ela ama girassol 🌻",
            "O endereço é em Moema",
            "Quero algo delicado",
            "Entrega até as 12h, por favor",
        ),
        qa=(
            ("Dá pra encomendar pra {date}?", "Dá sim! Já deixo a encomenda anotada pra {date} 💐"),
            ("As flores duram quanto tempo?", "Uns 7 dias, trocando a água a cada dois dias 🌷"),
        ),
        agent_openers=(
            (
                "Oi {name}! As flores foram entregues às {time} 💐",
                ("Que ótimo! {Obrigado} 😍", "Ela amou! ❤️"),
            ),
            ("{name}, confirmando a encomenda #{order} pra {date} 🌷", ("Confirmado!",)),
            (
                "Oi {name}! Dia das Mães chegando 💐 Quer garantir sua encomenda com antecedência?",
                (),
            ),
        ),
        customer_photos=(
            "Quero algo nesse estilo 👇",
            "Foto das cores do casamento",
            "Minha orquídea 😢",
        ),
        agent_photos=("Seu buquê pronto 💐", "Arranjo entregue ✨", "Opções de cores 🌷"),
        documents=(
            ("orcamento_casamento_{order}.pdf", "Orçamento da decoração 💍"),
            ("catalogo_flores.pdf", "Nosso catálogo 🌸"),
        ),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Can you deliver flowers to a hotel today?",),
                ("Yes! Orders before 4 pm are delivered the same day 🌷",),
            ),
            _t(
                ("How much is a bouquet of red roses?", "How much is the {product}?"),
                ("A dozen red roses is R$180 with delivery 🌹", "It's {price} 😊"),
            ),
            _t(
                ("I'd like a quote for wedding flowers 💍",),
                ("Congratulations! Tell me the date, venue and colours and I'll send a quote 😊",),
            ),
        ),
        agent_photos=("Your bouquet is ready 💐",),
    ),
)

_PIZZERIA = BusinessProfile(
    key="pizzaria",
    name="Pizzaria Bella Napoli",
    phone="+5511971846203",
    kind="pizzeria",
    address="Rua Treze de Maio, 720 - Bela Vista, São Paulo",
    latitude=-23.561360,
    longitude=-46.645150,
    agents=("Giovanni", "Paty"),
    english_share=0.1,
    open_hours=(17.5, 23.5),
    hours=("todos os dias, das 18h às 23h30", "every day from 6 pm to 11:30 pm"),
    products=(
        _p(
            "pizza de calabresa",
            "pizzas de calabresa",
            "f",
            "pepperoni pizza",
            "pepperoni pizzas",
            54.9,
            (1, 3),
        ),
        _p(
            "pizza margherita",
            "pizzas margherita",
            "f",
            "margherita pizza",
            "margherita pizzas",
            59.9,
            (1, 3),
        ),
        _p(
            "pizza quatro queijos",
            "pizzas quatro queijos",
            "f",
            "four-cheese pizza",
            "four-cheese pizzas",
            64.9,
            (1, 2),
        ),
        _p(
            "pizza de frango com catupiry",
            "pizzas de frango com catupiry",
            "f",
            "chicken and cream cheese pizza",
            "chicken and cream cheese pizzas",
            59.9,
            (1, 2),
        ),
        _p(
            "pizza portuguesa",
            "pizzas portuguesas",
            "f",
            "Portuguesa pizza",
            "Portuguesa pizzas",
            59.9,
            (1, 2),
        ),
        _p(
            "pizza de chocolate com morango",
            "pizzas de chocolate com morango",
            "f",
            "chocolate and strawberry pizza",
            "chocolate and strawberry pizzas",
            69.9,
        ),
        _p(
            "pizza de banana com canela e açúcar",
            "pizzas de banana com canela e açúcar",
            "f",
            "banana, cinnamon and sugar pizza",
            "banana, cinnamon and sugar pizzas",
            54.9,
        ),
        _p("esfiha de carne", "esfihas de carne", "f", "meat esfiha", "meat esfihas", 6.9, (4, 12)),
        _p("refrigerante 2 L", "refrigerantes 2 L", "m", "2 L soda", "2 L sodas", 14, (1, 2)),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Quero {items} pra entrega",
                    "Quero pedir {items}, dá pra mandar?",
                    "Oi! Faz {items} pra retirar às {time}?",
                ),
                (
                    "Anotado, {name}! O total fica {price}. Endereço de sempre? 🍕",
                    "Pedido #{order} anotado! Total {price}, chega em uns 40 minutos 🛵",
                    "Faço sim! Fica pronto às {time} 👍 Total {price}",
                ),
                (
                    "Pode ser metade calabresa, metade quatro queijos?",
                    "Pode sim! Cobramos pelo sabor mais caro 😉",
                ),
                ("Pode tirar a cebola?", "Pode, vai sem cebola 👍"),
                ("Tem borda recheada?", "Temos borda de catupiry e de cheddar, R$ 12,00 🧀"),
                ("Posso pagar na entrega?", "Pode! O motoboy leva a maquininha 💳"),
            ),
            _t(
                (
                    "Quanto tempo tá a entrega hoje?",
                    "Meu pedido #{order} ainda não chegou 😩",
                    "Já saiu meu pedido?",
                ),
                (
                    "Hoje tá em uns 50 minutos, {name}, a casa tá cheia 🔥",
                    "Desculpa, {name}! O pedido #{order} saiu agora, chega em 10 minutinhos 🛵",
                    "Já saiu sim! O motoboy tá a caminho 🛵",
                ),
            ),
            _t(
                ("Vocês têm pizza doce?", "A de banana vem com canela e açúcar?"),
                (
                    "Temos chocolate com morango, romeu e julieta e banana com canela e açúcar "
                    "🍫🍌",
                    "Vem sim! Banana, canela e açúcar, com leite condensado por cima 🤤",
                ),
            ),
            _t(
                ("Tem opção vegana?", "Me manda o cardápio?", "Tem pizza sem glúten?"),
                (
                    "Temos a vegana de legumes assados com queijo de castanha 🌱",
                    "Claro! Te mando o cardápio em PDF 📋",
                    "Não temos sem glúten, infelizmente 😕",
                ),
            ),
            _t(
                ("Vocês abrem segunda?", "Já estão abertos?"),
                ("Abrimos {hours} 🍕", "Abrimos às 18h! Pode deixar seu pedido agendado 😉"),
            ),
            _t(
                ("Vocês fazem rodízio em domicílio? Queria um orçamento pra 30 pessoas",),
                (
                    "Fazemos! Pra 30 pessoas fica R$ 1.350,00 com pizzaiolo e forno móvel 🍕 Te "
                    "mando o orçamento",
                    "Fazemos sim, qual a data?",
                ),
                (
                    "Vocês aceitam encomendas pra {date}?",
                    "Aceitamos! Só fechar com 50% de sinal 😉",
                ),
            ),
        ),
        details=(
            "Endereço: Rua das Palmeiras, 250, apto 31",
            "Manda troco pra R$ 100,00",
            "Sem azeitona, por favor",
            "Capricha no queijo 🧀",
            "É pra retirar",
            "E um refri de 2 litros também",
        ),
        qa=(
            ("Tem cupom de desconto?", "Hoje tem 10% no Pix! 😉"),
            (
                "Vocês entregam no meu bairro?",
                "Entregamos num raio de 5 km! Me manda sua localização que eu confiro 📍",
            ),
        ),
        agent_openers=(
            ("Oi {name}! Seu pedido #{order} saiu pra entrega 🛵", ("Oba! 😋", "Valeu!")),
            (
                "Boa noite, {name}! Hoje tem pizza doce pela metade do preço na compra de uma "
                "grande 🍫",
                (),
            ),
            (
                "Oi {name}, o motoboy chegou aí e não te achou, pode descer? 🛵",
                ("Desculpa! Já tô descendo 🏃",),
            ),
        ),
        customer_photos=("Olha como a pizza chegou 😕", "Comprovante do Pix ✅"),
        agent_photos=("Sua pizza saindo do forno 🔥🍕", "Comprovante recebido ✅"),
        documents=(
            ("cardapio_bella_napoli.pdf", "Nosso cardápio 📋🍕"),
            ("orcamento_rodizio_{order}.pdf", "Orçamento do rodízio 🍕"),
        ),
        agent_videos=("Sua pizza saindo do forno a lenha 🔥",),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Do you deliver to the hotels on Paulista Avenue?",),
                ("We do! Just send the hotel name and room number 🛵",),
            ),
            _t(
                ("Can I get {items} delivered?", "I'd like to order {items} please"),
                (
                    "Sure! That's {price}, about 40 minutes 🍕",
                    "Order #{order} placed! Total {price}",
                ),
            ),
            _t(("Do you have vegan pizza?",), ("Yes, roasted vegetables with cashew cheese 🌱",)),
        ),
        documents=(("menu_english.pdf", "Our menu in English 🍕"),),
    ),
)

_SALON = BusinessProfile(
    key="salao",
    name="Salão Cabelo & Arte",
    phone="+5511986350724",
    kind="hair salon",
    address="Rua Augusta, 2500 - Jardins, São Paulo",
    latitude=-23.560560,
    longitude=-46.664310,
    agents=("Jéssica", "Camila", "Rô"),
    english_share=0.08,
    open_hours=(9.0, 20.0),
    hours=("de terça a sábado, das 9h às 20h", "Tuesday to Saturday, 9 am to 8 pm"),
    products=(
        _s("corte feminino", "m", "women's haircut", 90),
        _s("escova", "f", "blowout", 55),
        _s("coloração", "f", "hair colouring", 180),
        _s("progressiva", "f", "keratin straightening", 250),
        _s("hidratação", "f", "hair treatment", 80),
        _s("manicure e pedicure", "f", "manicure and pedicure", 60),
        _s("corte masculino", "m", "men's haircut", 50),
        _s("penteado", "m", "updo", 150),
        _s("design de sobrancelha", "m", "eyebrow shaping", 40),
        _s("maquiagem", "f", "make-up", 120),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi! Tem horário pra {product} {date}?",
                    "Queria marcar {product} com a Jéssica {date} às {time}",
                    "Tem vaga hoje pra {product}?",
                ),
                (
                    "Tem sim! {date} às {time} fica bom? {O_product} sai {price} 💇‍♀️",
                    "Agendado, {name}! {date} às {time} ✨",
                    "Hoje só tenho às 17h30, pode ser?",
                ),
                ("Quanto tempo demora?", "Em média 1 hora e meia ⏰"),
                ("Pode ser com outra profissional?", "Pode sim, a Camila também tem horário 😊"),
            ),
            _t(
                (
                    "Queria um orçamento pro dia da noiva 👰",
                    "Vocês fazem penteado e maquiagem pra madrinha?",
                ),
                (
                    "Temos pacote completo: cabelo, maquiagem, manicure e café da manhã no salão "
                    "💍 "
                    "Te mando o orçamento!",
                    "Fazemos sim! Penteado + maquiagem sai R$ 270,00 💄",
                ),
            ),
            _t(
                (
                    "Preciso remarcar meu horário de {date} 😕",
                    "Vou atrasar uns 15 minutos, tudo bem?",
                ),
                (
                    "Sem problemas! Qual outro dia fica bom?",
                    "Tudo bem, {name}! A gente te espera 😊",
                ),
            ),
            _t(
                (
                    "Quero clarear o cabelo, vocês fazem mechas?",
                    "Meu cabelo tá muito ressecado, qual tratamento você indica?",
                    "A progressiva de vocês tem formol?",
                ),
                (
                    "Fazemos! Mechas a partir de R$ 280,00, depende do comprimento",
                    "Indico a hidratação com reconstrução, sai R$ 80,00 e o resultado é na hora ✨",
                    "Não tem formol! É uma progressiva orgânica 🌿",
                ),
            ),
        ),
        details=(
            "Meu cabelo é comprido, até a cintura",
            "É pra um casamento {date} 💍",
            "Pode ser depois das {time}?",
            "Já sou cliente, tá?",
        ),
        qa=(
            ("Tem café aí enquanto espero? 😅", "Sempre! Café fresquinho e água com gás ☕"),
            ("Vocês fazem pacote mensal?", "Temos pacote de 4 escovas por R$ 180,00 😉"),
        ),
        agent_openers=(
            (
                "Oi {name}! Passando pra confirmar seu horário {date} às {time} 💇‍♀️",
                ("Confirmado! 😊", "Confirmadíssimo!", "Ih, vou precisar remarcar 😕"),
            ),
            ("Oi {name}! Faz um tempinho que você não vem, que tal agendar uma hidratação? ✨", ()),
            (
                "{name}, abriu um horário {date} às {time}, quer?",
                ("Quero sim!", "Não vou conseguir, {obrigado}!"),
            ),
        ),
        customer_photos=("Quero um corte assim 👇", "Essa cor aqui 😍", "Meu cabelo hoje 😩"),
        agent_photos=("Resultado ✨", "Antes e depois 😍"),
        documents=(
            ("orcamento_noiva_{order}.pdf", "Orçamento do dia da noiva 💍"),
            ("tabela_de_precos.pdf", "Nossa tabela de preços"),
        ),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                (
                    "Hi! Do you have an opening for a haircut {date}?",
                    "Can I book a {product} for {date}?",
                ),
                ("Yes! {date} at {time} works? It's {price} 😊", "Booked for {date} at {time} ✨"),
            ),
            _t(("Do you do blowouts?",), ("We do! A blowout is R$55 💇‍♀️",)),
        ),
        agent_photos=("The result ✨",),
    ),
)

_HARDWARE = BusinessProfile(
    key="ferragens",
    name="Casa de Ferragens Martelo de Ouro",
    phone="+5511924673058",
    kind="hardware store",
    address="Avenida Celso Garcia, 4100 - Tatuapé, São Paulo",
    latitude=-23.535640,
    longitude=-46.578020,
    agents=("Seu Jorge", "Tiago"),
    english_share=0.06,
    open_hours=(7.5, 18.0),
    hours=(
        "de segunda a sexta, das 7h30 às 18h, e sábado até as 13h",
        "Monday to Friday 7:30 am to 6 pm, Saturdays until 1 pm",
    ),
    products=(
        _p(
            "saco de cimento 50 kg",
            "sacos de cimento 50 kg",
            "m",
            "50 kg bag of cement",
            "50 kg bags of cement",
            38.9,
            (5, 40),
        ),
        _p(
            "furadeira de impacto",
            "furadeiras de impacto",
            "f",
            "impact drill",
            "impact drills",
            329.9,
        ),
        _p(
            "lata de tinta acrílica 18 L",
            "latas de tinta acrílica 18 L",
            "f",
            "18 L can of acrylic paint",
            "18 L cans of acrylic paint",
            389.9,
            (1, 4),
        ),
        _p(
            "torneira de cozinha",
            "torneiras de cozinha",
            "f",
            "kitchen faucet",
            "kitchen faucets",
            159.9,
            (1, 2),
        ),
        _p(
            "chuveiro elétrico",
            "chuveiros elétricos",
            "m",
            "electric shower head",
            "electric shower heads",
            129.9,
            (1, 2),
        ),
        _p(
            "caixa de parafusos 4x40",
            "caixas de parafusos 4x40",
            "f",
            "box of 4x40 screws",
            "boxes of 4x40 screws",
            24.9,
            (1, 5),
        ),
        _p(
            "rolo de fio 2,5 mm",
            "rolos de fio 2,5 mm",
            "m",
            "roll of 2.5 mm wire",
            "rolls of 2.5 mm wire",
            289.9,
            (1, 3),
        ),
        _p(
            "disjuntor 20 A",
            "disjuntores 20 A",
            "m",
            "20 A circuit breaker",
            "20 A circuit breakers",
            22.9,
            (1, 6),
        ),
        _p("cadeado 40 mm", "cadeados 40 mm", "m", "40 mm padlock", "40 mm padlocks", 39.9, (1, 3)),
        _p(
            "escada de alumínio 7 degraus",
            "escadas de alumínio 7 degraus",
            "f",
            "7-step aluminium ladder",
            "7-step aluminium ladders",
            279.9,
        ),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Preciso de um orçamento de material pra reforma do banheiro",
                    "Me passa um orçamento de {items}?",
                    "Quanto sai {items}?",
                ),
                (
                    "Claro! Me manda a lista que eu monto o orçamento 📝",
                    "O total fica {price} à vista 👍",
                    "O orçamento ficou {price}, entregamos {date} 🚚",
                ),
                (
                    "Tem desconto pra quantidade?",
                    "Acima de 20 sacos de cimento fazemos 5% de desconto 👍",
                ),
                ("Entregam na obra?", "Entregamos sim! O caminhão sai toda manhã 🚚"),
            ),
            _t(
                (
                    "Qual fio eu uso pra ligar um chuveiro de 7500 W?",
                    "Esse disjuntor serve pra chuveiro?",
                    "Qual broca uso pra furar azulejo?",
                ),
                (
                    "Pra chuveiro de 7500 W o ideal é fio de 6 mm e disjuntor de 40 A ⚡",
                    "Me manda foto do quadro que eu te ajudo 😉",
                    "Broca de vídea de 6 mm, e começa sem impacto pra não trincar 👍",
                ),
            ),
            _t(
                ("Tem {product}?", "Vocês têm {product} em estoque?"),
                ("Tem sim! Sai {price} 😊", "Acabou, mas chega {date} 📦"),
            ),
            _t(
                ("Vocês fazem tinta na cor? Queria um bege", "Tem tinta cor café com leite?"),
                (
                    "Fazemos tinta no sistema tintométrico, qualquer cor na hora 🎨",
                    "Tem sim! Café com leite é uma das mais pedidas",
                ),
            ),
            _t(
                ("Dá pra fazer encomenda de telha? Preciso de 300", "Vocês cortam MDF na medida?"),
                (
                    "Fazemos sim, a encomenda chega em 3 dias úteis",
                    "Cortamos MDF na medida, é só trazer as medidas 📐",
                ),
            ),
        ),
        details=(
            "É pra uma obra aqui no bairro",
            "O banheiro tem uns 4 m²",
            "Preciso até {date}",
            "Sou pedreiro, tem desconto? 😅",
        ),
        qa=(
            ("Vocês abrem sábado?", "Abrimos sábado até as 13h 🔨"),
            ("Tem como reservar o material?", "Reservo por 2 dias sem sinal 👍"),
        ),
        agent_openers=(
            ("Oi {name}! Sua encomenda #{order} chegou, pode retirar 📦", ()),
            (
                "{name}, o caminhão sai {date} às {time} com o seu material 🚚",
                ("Beleza, vou estar na obra 👍",),
            ),
            (
                "Oi {name}, o orçamento #{order} vale até sexta, quer fechar? 😉",
                ("Fecha sim!", "Vou ver com o pedreiro e te falo"),
            ),
        ),
        customer_photos=(
            "Foto do quadro de luz ⚡",
            "É essa peça aqui",
            "Preciso de uma igual a essa",
        ),
        agent_photos=("Temos esse modelo 👇", "Material separado ✅"),
        documents=(
            ("orcamento_{order}.pdf", "Segue o orçamento 📄"),
            ("nota_fiscal_{order}.pdf", "Nota fiscal 🧾"),
            ("catalogo_tintas.pdf", "Catálogo de cores 🎨"),
        ),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                ("Hi! Do you sell adapters for European plugs?",),
                ("We do! Universal adapters for R$15 🔌",),
            ),
            _t(("Do you have {product}?",), ("Yes, {price} 😊",)),
            _t(("I need a padlock for my locker",), ("We have 40 mm padlocks for R$39.90 🔒",)),
        ),
    ),
)

_LANGUAGE_SCHOOL = BusinessProfile(
    key="idiomas",
    name="Escola de Idiomas Ponte",
    phone="+5511953018264",
    kind="language school",
    address="Rua Vergueiro, 3185 - Vila Mariana, São Paulo",
    latitude=-23.588630,
    longitude=-46.634150,
    agents=("Teacher Ana", "Marcos", "Lu"),
    english_share=0.3,
    open_hours=(8.0, 21.0),
    hours=(
        "de segunda a sexta, das 8h às 21h, e sábado das 9h às 13h",
        "Monday to Friday 8 am to 9 pm, Saturdays 9 am to 1 pm",
    ),
    extras=(
        (
            "level",
            ("básico", "intermediário", "avançado"),
            ("beginner", "intermediate", "advanced"),
        ),
    ),
    products=(
        _s("mensalidade do inglês intensivo", "f", "monthly fee for intensive English", 420),
        _p(
            "aula particular de inglês",
            "aulas particulares de inglês",
            "f",
            "private English lesson",
            "private English lessons",
            120,
            (1, 10),
        ),
        _s("curso de espanhol", "m", "Spanish course", 360),
        _s("preparatório para o IELTS", "m", "IELTS preparation course", 650),
        _s("curso de inglês para crianças", "m", "English for kids course", 320),
        _s("curso de português para estrangeiros", "m", "Portuguese for foreigners course", 450),
        _s("conversação em inglês", "f", "English conversation class", 280),
        _p(
            "kit de material didático",
            "kits de material didático",
            "m",
            "coursebook kit",
            "coursebook kits",
            240,
            (1, 2),
        ),
    ),
    pt=_script(
        "pt",
        topics=(
            _t(
                (
                    "Oi! Queria informações sobre o {product}",
                    "Quanto custa {o_product}?",
                    "Vocês têm turma de {product} à noite?",
                ),
                (
                    "Que bom que se interessou! Posso te mandar o material com os valores?",
                    "Oi {name}! {O_product} sai {price} por mês, com material incluso 😊",
                    "Temos turmas às terças e quintas, 19h e 20h30 🌙",
                ),
                ("Tem aula experimental?", "Tem sim, gratuita! Quer agendar {date} às {time}?"),
                ("Tem certificado?", "Tem sim, ao final de cada módulo 🎓"),
            ),
            _t(
                ("Como faço o teste de nível? Acho que sou {level}",),
                (
                    "O teste é online e leva 30 minutos, te mando o link 😊",
                    "Pode vir {date} às {time} que a professora faz o nivelamento na hora",
                ),
            ),
            _t(
                ("Vou faltar na aula {date}, consigo repor?", "Perdi a aula de ontem 😕"),
                (
                    "Consegue sim! Tem reposição aos sábados de manhã",
                    "Sem problemas, {name}! Te mando o conteúdo e agendamos a reposição",
                ),
            ),
            _t(
                ("Vocês têm inglês pra criança de 7 anos?",),
                ("Temos! Turma kids com aulas lúdicas, 2x por semana 🧒",),
            ),
            _t(
                ("Pode me mandar o boleto da mensalidade?", "Consigo pagar a matrícula no Pix?"),
                ("Claro! Já te mando o boleto 📄", "Consegue sim! A chave Pix é este telefone 😊"),
            ),
        ),
        details=(
            "Estudei inglês na escola, mas esqueci tudo 😅",
            "Preciso pra uma entrevista de emprego",
            "Vou fazer intercâmbio {date}",
            "Só posso à noite",
        ),
        qa=(
            ("As turmas são de quantos alunos?", "No máximo 8 alunos por turma 😊"),
            ("Tem aula online?", "Tem sim, ao vivo pelo Zoom 💻"),
        ),
        agent_openers=(
            (
                "Oi {name}! Sua aula experimental está confirmada pra {date} às {time} 😊",
                ("Confirmado, {obrigado}!", "Tô lá!"),
            ),
            (
                "Olá {name}! As matrículas pro próximo semestre abriram, com 20% de desconto até "
                "{date} 🎓",
                (),
            ),
            (
                "Oi {name}, lembrete: a mensalidade vence {date} 📄",
                ("Vou pagar hoje, {obrigado}!",),
            ),
        ),
        agent_photos=("Nossa sala de aula 📚", "Material do curso 👇"),
        documents=(
            ("boleto_mensalidade_{order}.pdf", "Segue o boleto 📄"),
            ("contrato_matricula_{order}.pdf", "Contrato de matrícula"),
            ("grade_de_horarios.pdf", "Grade de horários 🗓️"),
        ),
    ),
    en=_script(
        "en",
        topics=(
            _t(
                (
                    "Hi! Do you have Portuguese classes for foreigners?",
                    "I just moved to São Paulo and need Portuguese lessons 🇧🇷",
                ),
                (
                    "We do! Beginner groups on Tuesdays and Thursdays at 7 pm 😊 {price} per month",
                    "Welcome to São Paulo! 🇧🇷 We have groups and private lessons, which do you "
                    "prefer?",
                ),
                ("Is there a trial class?", "Yes, free of charge! {date} at {time}?"),
                (
                    "I'm not a complete beginner, more {level}",
                    "Great, we'll do a quick placement test first 😊",
                ),
            ),
            _t(("Can I take private lessons?",), ("Sure! Private lessons are R$120 per hour",)),
            _t(("How much is the {product}?",), ("It's {price} per month, materials included 😊",)),
        ),
        agent_openers=(
            (
                "Hi {name}! Your trial class is confirmed for {date} at {time} 😊",
                ("See you then!",),
            ),
        ),
        documents=(("schedule.pdf", "Class schedule 🗓️"),),
    ),
)

PROFILES: Final[tuple[BusinessProfile, ...]] = (
    _BAKERY,
    _REPAIR,
    _CLOTHING,
    _PHARMACY,
    _PET_SHOP,
    _FLORIST,
    _PIZZERIA,
    _SALON,
    _HARDWARE,
    _LANGUAGE_SCHOOL,
)
"""The demo businesses, in the order the demo and the benchmark use them."""


# ---------------------------------------------------------------------------------------------
# Customers: names and phone numbers
# ---------------------------------------------------------------------------------------------

_FEMALE_PT: Final = (
    "Ana",
    "Maria",
    "Conceição",
    "Ângela",
    "Fernanda",
    "Juliana",
    "Patrícia",
    "Letícia",
    "Gabriela",
    "Beatriz",
    "Camila",
    "Larissa",
    "Mariana",
    "Aparecida",
    "Luíza",
    "Cecília",
    "Sônia",
    "Márcia",
    "Vitória",
    "Lúcia",
    "Débora",
    "Tânia",
    "Mônica",
    "Cláudia",
    "Renata",
    "Natália",
    "Júlia",
    "Bárbara",
    "Heloísa",
    "Raquel",
    "Simone",
    "Daniela",
    "Priscila",
    "Thaís",
    "Jéssica",
    "Bianca",
    "Rosângela",
    "Francisca",
    "Antônia",
    "Lívia",
    "Yasmin",
    "Valéria",
    "Célia",
    "Graça",
    "Inês",
    "Iara",
)
_MALE_PT: Final = (
    "João",
    "José",
    "Antônio",
    "Sebastião",
    "Luís",
    "Márcio",
    "Fábio",
    "Vinícius",
    "Caio",
    "Mateus",
    "Gustavo",
    "Rafael",
    "Thiago",
    "Lucas",
    "Pedro",
    "André",
    "Sérgio",
    "Flávio",
    "Rogério",
    "Otávio",
    "Cauã",
    "Davi",
    "Heitor",
    "Benício",
    "Joaquim",
    "Raimundo",
    "Francisco",
    "Paulo",
    "Leandro",
    "Rodrigo",
    "Júlio",
    "César",
    "Túlio",
    "Édson",
    "Wellington",
    "Cléber",
    "Anderson",
    "Renan",
    "Igor",
    "Diego",
    "Mário",
    "Emanuel",
)
_SURNAMES_PT: Final = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Lima",
    "Pereira",
    "Ferreira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Araújo",
    "Gonçalves",
    "Ribeiro",
    "Carvalho",
    "Gomes",
    "Martins",
    "Rocha",
    "Barbosa",
    "Melo",
    "Conceição",
    "Magalhães",
    "Assunção",
    "Brandão",
    "Simões",
    "Guimarães",
    "Falcão",
    "Paixão",
    "Romão",
    "Damasceno",
    "Sampaio",
    "Figueiredo",
    "Monteiro",
    "Cavalcanti",
    "Tavares",
    "Nóbrega",
    "Aragão",
    "Leão",
    "Galvão",
)
_FIRST_EN: Final = (
    "Emily",
    "Sarah",
    "Olivia",
    "Chloe",
    "Grace",
    "Hannah",
    "Megan",
    "Aisha",
    "Laura",
    "Emma",
    "Charlotte",
    "Priya",
    "Mei",
    "Ingrid",
    "Claire",
    "Fiona",
    "Rachel",
    "Zoe",
    "James",
    "Tom",
    "Liam",
    "Noah",
    "Daniel",
    "Ethan",
    "Jack",
    "Ryan",
    "Oliver",
    "Harry",
    "Samuel",
    "Ben",
    "Connor",
    "David",
    "Mark",
    "Kenji",
    "Omar",
    "Pieter",
)
_SURNAMES_EN: Final = (
    "Carter",
    "O'Brien",
    "Mitchell",
    "Becker",
    "Grant",
    "Walsh",
    "Evans",
    "Fischer",
    "Kim",
    "Murphy",
    "Schultz",
    "Brooks",
    "Wilson",
    "Price",
    "Cooper",
    "Khan",
    "Moreau",
    "Novak",
    "Jensen",
    "Hughes",
    "Patel",
    "Schmidt",
    "Taylor",
    "Reid",
    "Lindqvist",
)
_NAME_EMOJI: Final = ("🌻", "🌸", "✨", "💙", "🙏", "⚽", "🎸", "🌵")
_GENDER: Final[dict[str, str]] = {
    **{name: "f" for name in _FEMALE_PT},
    **{name: "m" for name in _MALE_PT},
    "Dona": "f",
    "Tia": "f",
    "Seu": "m",
    "Tio": "m",
}
_HONORIFICS: Final = frozenset({"Dona", "Seu", "Tia", "Tio"})

# Mostly São Paulo, as the shops are there, with the rest of the country sprinkled in.
_DDDS: Final = (11,) * 14 + (
    12,
    13,
    15,
    19,
    21,
    21,
    27,
    31,
    31,
    41,
    47,
    48,
    51,
    61,
    62,
    71,
    81,
    85,
    91,
    92,
)
# Foreign numbers come from ranges reserved for fiction (US 555-0100..0199, UK 07700 900xxx), so
# a screenshot of the demo never shows a real person's number. Brazil and Portugal reserve none.
_US_AREAS: Final = (
    212,
    305,
    312,
    415,
    617,
    646,
    702,
    713,
    818,
    917,
    202,
    404,
    503,
    512,
    619,
    720,
    786,
    808,
    914,
    973,
)


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

_DATES: Final = {
    "pt": ("amanhã", "amanhã", "sábado", "sexta", "segunda", "quarta", "quinta"),
    "en": ("tomorrow", "tomorrow", "Saturday", "Friday", "Monday", "Wednesday", "Thursday"),
}


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
        self.ack_pool = lines.acks
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
_SEND_ERRORS: Final = (
    "Não entregue: a janela de 24 horas para responder este cliente fechou",
    "Não entregue: este número não tem WhatsApp",
    "Falha de conexão com o provedor; tente enviar de novo",
    "Não entregue: limite de envios por segundo atingido",
)

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
                        if text is asked:  # nobody asks the same thing twice in a row
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

_REACTIONS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "pt": {
        "price": (
            "Fechado!",
            "Fechado, pode separar 👍",
            "Ótimo preço, vou querer!",
            "Hmm, achei um pouco caro... vou pensar 😅",
            "Fechado! Faço o Pix agora",
        ),
        "time": (
            "Combinado!",
            "Combinado, até lá 👍",
            "Perfeito, nesse horário dá certo",
            "Fechado, tô lá no horário 😊",
        ),
        "delivery": (
            "Ótimo, fico aguardando!",
            "Oba! Vou ficar de olho 👀",
            "Perfeito, tô em casa",
        ),
        "payment": (
            "Vou fazer o Pix agora e te mando o comprovante",
            "Pode ser no cartão então",
            "Beleza, pago na retirada",
        ),
        "thanks": ("Eu que agradeço! 🙏", "Imagina! 😊", "Valeu! 🙌"),
        # The agent asked something the demo cannot know ("Qual o modelo?"): answers that fit
        # an open question as well as a yes/no one.
        "question": (
            "Hmm, deixa eu ver e te falo",
            "Vou confirmar aqui e já te respondo",
            "Já te mando! 😊",
            "Pode ser, sim!",
        ),
        "other": (
            "Perfeito, {obrigado}! 😊",
            "Ok! 👍",
            "Entendi, {obrigado}!",
            "Show! 🙌",
            "Ah, que bom! 😊",
        ),
    },
    "en": {
        "price": (
            "Deal!",
            "Sounds good, I'll take it!",
            "Great price 👍",
            "Hmm, a bit pricey... let me think 😅",
        ),
        "time": ("Works for me!", "See you then 👍", "Perfect timing", "Great, I'll be there"),
        "delivery": ("Great, I'll be waiting!", "Awesome, thanks! 🙌", "Perfect, I'm home"),
        "payment": ("Sending the payment now", "I'll pay by card then", "Ok, I'll pay at pickup"),
        "thanks": ("Thank you! 🙏", "Cheers!", "Thanks again 😊"),
        "question": (
            "Let me check and get back to you",
            "One sec, I'll find out",
            "Sending it in a minute 😊",
            "Sure, that works!",
        ),
        "other": ("Great, thanks!", "Ok 👍", "Got it, thanks!", "Perfect 😊"),
    },
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
