"""The pages' Jinja environments: one per language, with the interface's own words folded
into the compiled templates.

A template says `{{ t('worklist') }}`; in the Swedish environment that is compiled as
`{{ 'Min arbetslista' }}`, which Jinja's optimiser turns into static output (escaped once,
at compile time). A page of the worklist holds some 180 such words: looking each up per
request was a tenth of the page's time. `t(expression)` with anything but a literal key
still calls `t` at render time.

What a trigger's form asks for, before anyone has filled it in, is the same for every
case in the same state: `unfilled` renders it once per language and trigger description
and keeps the HTML (the forms were two thirds of a case page's rendering).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_LPAREN, TOKEN_NAME, TOKEN_RPAREN, TOKEN_STRING, Token
from markupsafe import Markup

from etablera.interfaces.http import i18n

HERE = Path(__file__).parent
_DICT_ATTRIBUTES = frozenset(dir(dict))


class FoldWords(Extension):
    """Replaces the tokens `t ( 'key' )` by the string token of the word in the
    environment's language (`environment.etablera_lang`)."""

    def filter_stream(self, stream):
        lang = self.environment.etablera_lang
        window: list[Token] = []
        for token in stream:
            window.append(token)
            if len(window) == 4:
                if _is_word_call(window):
                    name, _, key, _ = window
                    yield Token(name.lineno, TOKEN_STRING, i18n.word(key.value, lang))
                    window.clear()
                else:
                    yield window.pop(0)
        yield from window


def _is_word_call(window: list[Token]) -> bool:
    name, lparen, key, rparen = window
    return (name.type == TOKEN_NAME and name.value == "t" and lparen.type == TOKEN_LPAREN
            and key.type == TOKEN_STRING and rparen.type == TOKEN_RPAREN)


class PageEnvironment(Environment):
    """The pages are rendered from JSON-able documents (dicts): `{{ c.id }}` looks the key
    up first. Jinja's own order (attribute, then key) costs a caught AttributeError for
    every dict key, some 800 per worklist page. A key that is not there is a dict's
    attribute (`{{ d.items() }}`) or undefined at once: Jinja's way, an AttributeError and
    a KeyError caught, was some thirty times a case page (`{% if typed.reason %}`)."""

    def getattr(self, obj, attribute):
        if type(obj) is dict:
            if attribute in obj:
                return obj[attribute]
            if attribute not in _DICT_ATTRIBUTES:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


@pass_context
def _choice_filter(context, code) -> str:
    return i18n.choice(str(code), context.get("lang", "sv"))


_UNFILLED = '{% from "_fields.html" import event_inputs with context %}{{ event_inputs(ev, {}, None) }}'


def _unfilled(env: Environment):
    fragment = env.from_string(_UNFILLED)

    @lru_cache(maxsize=1024)
    def render(key: bytes) -> Markup:
        return Markup(fragment.render(ev=orjson.loads(key)))

    def unfilled(event: dict) -> Markup:
        """The inputs of a permitted event (as service.permitted_events describes it), empty.
        The description itself is the key (orjson: a tenth of the standard library's time)."""
        return render(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
    return unfilled


def _environment(lang: str) -> Environment:
    env = PageEnvironment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                          extensions=[FoldWords], auto_reload=False)   # templates change with a deploy
    env.extend(etablera_lang=lang)
    env.filters["choice"] = _choice_filter
    env.globals.update(lang=lang, t=lambda key: i18n.word(key, lang), choice=lambda code: i18n.choice(code, lang),
                       role_label=lambda role: i18n.pick(i18n.ROLES.get(role), lang, role))
    env.globals["unfilled"] = _unfilled(env)
    return env


ENVIRONMENTS = {lang: _environment(lang) for lang in i18n.LANGS}


def template(lang: str, name: str):
    return ENVIRONMENTS[lang].get_template(name)


def compile_all() -> int:
    """Compile every page template of every language now (a server's start) rather than
    in the first request that needs it: the case page alone takes a good part of a second."""
    names = [n for n in ENVIRONMENTS["sv"].list_templates() if n.endswith(".html")]
    for lang in ENVIRONMENTS:
        for name in names:
            template(lang, name)
    return len(names) * len(ENVIRONMENTS)
