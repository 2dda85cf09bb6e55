"""Block Kit and mrkdwn to HTML, on the server, for the playground page.

Responsible for: turning what the bot sends Slack (message text and blocks,
modal and Home views) into accessible HTML that looks and behaves like Slack
enough to run an incident: sections with fields and accessories, context,
header, divider, actions, input; buttons (style, confirm), overflow menus,
static and user selects, checkboxes, radio buttons, text inputs; mrkdwn with
mentions shown as names and the emoji the bot uses.

Every string from the bot or from people is escaped here: text can never
inject markup, run script, or turn into a notifying mention. Anything this
renderer does not know is shown as a labelled box with its JSON, never dropped.

Interactive elements carry ``data-action-id``/``data-block-id``/``data-type``;
the page's script finds the surrounding container (a message, a modal, the
Home tab) and tells the workspace server what was clicked or chosen.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "EMOJI",
    "MAX_RENDERED_BLOCKS",
    "Names",
    "Renderer",
    "mrkdwn",
    "plain",
]

MAX_RENDERED_BLOCKS = 100  # Slack's largest surface (modal, Home) holds 100 blocks
MAX_JSON_CHARS = 2000  # an unknown block's JSON is shown up to this length

# The emoji the bot uses (and a few people type); unknown ones stay ":name:".
EMOJI: Mapping[str, str] = {
    "00": "🕛",
    "alarm_clock": "⏰",
    "arrows_counterclockwise": "🔄",
    "boom": "💥",
    "bust_in_silhouette": "👤",
    "clipboard": "📋",
    "eyes": "👀",
    "fire": "🔥",
    "heavy_check_mark": "✔️",
    "information_source": "\u2139\ufe0f",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "leftwards_arrow_with_hook": "↩️",
    "lock": "🔒",
    "mega": "📣",
    "memo": "📝",
    "page_facing_up": "📄",
    "pager": "📟",
    "pencil2": "✏️",
    "pushpin": "📌",
    "red_circle": "🔴",
    "rotating_light": "🚨",
    "tada": "🎉",
    "thumbsup": "👍",
    "+1": "👍",
    "warning": "⚠️",
    "wave": "👋",
    "wastebasket": "🗑️",
    "white_check_mark": "✅",
    "white_circle": "⚪",
    "wrench": "🔧",
    "x": "❌",
    "zzz": "💤",
}

_SAFE_SCHEMES = ("http", "https", "mailto")
_TOKEN_RE = re.compile(r"<([^<>\n]{1,3000})>")
_CODE_RE = re.compile(r"`([^`\n]+)`")
_PRE_RE = re.compile(r"```(.*?)```", re.DOTALL)
# Placeholders for already-rendered pieces; private-use characters that are
# stripped from the input first, so text can never forge one.
_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PH_RE = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")
_EMOJI_RE = re.compile(r":([a-z0-9_+-]{1,100}):")


def _style(marker: str, tag: str) -> tuple[re.Pattern[str], str]:
    m = re.escape(marker)
    # Slack formats *bold* only between word boundaries, never across lines.
    pattern = re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])")
    return pattern, f"<{tag}>\\1</{tag}>"


_STYLES = (_style("*", "strong"), _style("_", "em"), _style("~", "del"))


@dataclass(frozen=True)
class Names:
    """What the renderer needs to know about the workspace: display names by id."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)  # usergroup id -> handle
    people: tuple[tuple[str, str], ...] = ()  # (id, name) choices for user pickers


def esc(text: Any) -> str:
    """HTML-escape any value, quotes included (safe in text and attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def _emoji(escaped: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = EMOJI.get(match[1])
        if char is None:
            return match[0]
        return f'<span class="emoji" role="img" aria-label="{match[1]}">{char}</span>'

    return _EMOJI_RE.sub(one, escaped)


def plain(obj: Any) -> str:
    """A plain_text object (or string) as escaped HTML; emoji codes become emoji.

    Slack decodes its three escapes (&amp; &lt; &gt;) for display in every text,
    plain_text included; nothing else is interpreted.
    """
    if isinstance(obj, Mapping):
        text = obj.get("text")
        if obj.get("type") == "mrkdwn":
            return mrkdwn(text if isinstance(text, str) else "", Names())
        escaped = esc(_unescape_slack(text if isinstance(text, str) else ""))
        return _emoji(escaped) if obj.get("emoji", True) else escaped
    return _emoji(esc(_unescape_slack(obj))) if isinstance(obj, str) else ""


def plain_string(obj: Any) -> str:
    """The raw string of a text object (for attributes such as aria-label)."""
    if isinstance(obj, Mapping):
        return str(obj.get("text") or "")
    return obj if isinstance(obj, str) else ""


def _unescape_slack(text: str) -> str:
    """Slack message text escapes exactly &, < and > (and nothing else)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _safe_url(url: str) -> str | None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in _SAFE_SCHEMES else None


def _token(inner: str, names: Names) -> str | None:
    """A Slack ``<…>`` token as HTML, or None when it is not a token (shown literally)."""
    target, _, label = inner.partition("|")
    label = _unescape_slack(label)
    if target.startswith("@") and len(target) > 1:
        name = names.users.get(target[1:]) or label or target[1:]
        return f'<span class="mention" data-user="{esc(target[1:])}">@{esc(name)}</span>'
    if target.startswith("#") and len(target) > 1:
        name = names.channels.get(target[1:]) or label or target[1:]
        return (
            f'<a href="#" class="mention channel-link" data-goto="{esc(target[1:])}">'
            f"#{esc(name)}</a>"
        )
    if target.startswith("!"):
        return _special(target[1:], label, names)
    url = _safe_url(_unescape_slack(target))
    if url is None:
        return None
    text = label or url.removeprefix("mailto:")
    return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(text)}</a>'


def _special(command: str, label: str, names: Names) -> str:
    if command in ("here", "channel", "everyone"):
        return f'<span class="mention broadcast">@{command}</span>'
    if command.startswith("subteam^"):
        group = command.split("^", 1)[1]
        handle = names.groups.get(group) or label.lstrip("@") or group
        return f'<span class="mention">@{esc(handle)}</span>'
    if command.startswith("date^"):
        return esc(label or command)
    return esc(label or f"<!{command}>")


def mrkdwn(text: str, names: Names) -> str:
    """Slack mrkdwn as HTML: *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes,
    links, mentions by name, emoji; everything else literal and escaped."""
    text = text.replace(_PH_OPEN, "").replace(_PH_CLOSE, "")
    pieces: list[str] = []

    def hold(rendered: str) -> str:
        pieces.append(rendered)
        return f"{_PH_OPEN}{len(pieces) - 1}{_PH_CLOSE}"

    text = _PRE_RE.sub(
        lambda m: hold(f"<pre>{esc(_unescape_slack(m[1].strip(chr(10))))}</pre>"), text
    )
    text = _CODE_RE.sub(lambda m: hold(f"<code>{esc(_unescape_slack(m[1]))}</code>"), text)

    def token(match: re.Match[str]) -> str:
        rendered = _token(match[1], names)
        return match[0] if rendered is None else hold(rendered)

    text = _TOKEN_RE.sub(token, text)
    out = esc(_unescape_slack(text))
    for pattern, replacement in _STYLES:
        out = pattern.sub(replacement, out)
    out = _quotes(_emoji(out))
    return _PH_RE.sub(lambda m: pieces[int(m[1])], out)


def _quotes(escaped: str) -> str:
    """Lines starting with ``>`` become block quotes; newlines become <br>."""
    out: list[str] = []
    quote: list[str] = []
    for line in escaped.split("\n"):
        if line.startswith("&gt;"):
            quote.append(line[4:].lstrip(" "))
            continue
        if quote:
            out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
            quote = []
        out.append(line + "<br>")
    if quote:
        out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
    joined = "".join(out)
    return joined.removesuffix("<br>")


def text_object(obj: Any, names: Names) -> str:
    """A text object of either type as HTML."""
    if isinstance(obj, Mapping) and obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text") or ""), names)
    return plain(obj)


def unknown(kind: str, obj: Any) -> str:
    """Something this renderer does not know: a labelled box with its JSON."""
    try:
        dumped = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        dumped = repr(obj)
    if len(dumped) > MAX_JSON_CHARS:
        dumped = dumped[:MAX_JSON_CHARS] + "\n…"
    label = obj.get("type") if isinstance(obj, Mapping) else type(obj).__name__
    return (
        f'<figure class="bk-unknown"><figcaption>Unsupported {esc(kind)}: '
        f"<code>{esc(label)}</code></figcaption><pre>{esc(dumped)}</pre></figure>"
    )


class Renderer:
    """Renders blocks for one surface; ``errors`` are a modal's inline errors by block_id."""

    def __init__(
        self, names: Names, *, errors: Mapping[str, str] | None = None, id_prefix: str = "bk"
    ) -> None:
        self.names = names
        self.errors = dict(errors or {})
        self._ids = itertools.count(1)
        self._prefix = re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or "bk"

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    # ------------------------------------------------------------ blocks

    def blocks(self, blocks: Any) -> str:
        if not isinstance(blocks, list):
            return unknown("blocks", blocks) if blocks else ""
        shown = [self.block(b) for b in blocks[:MAX_RENDERED_BLOCKS]]
        hidden = len(blocks) - MAX_RENDERED_BLOCKS
        if hidden > 0:
            shown.append(f'<p class="bk-more">{hidden} more blocks not shown</p>')
        return "".join(shown)

    def block(self, block: Any) -> str:
        if not isinstance(block, Mapping):
            return unknown("block", block)
        method: Callable[[Mapping[str, Any]], str] | None = getattr(
            self, f"_block_{block.get('type')}", None
        )
        if method is None:
            return unknown("block", block)
        try:
            return method(block)
        except (TypeError, AttributeError, ValueError, KeyError):
            return unknown("block", block)  # malformed: show it rather than fail the page

    def _block_section(self, block: Mapping[str, Any]) -> str:
        parts = []
        if block.get("text") is not None:
            parts.append(f'<div class="bk-text">{text_object(block["text"], self.names)}</div>')
        fields = block.get("fields")
        if isinstance(fields, list) and fields:
            cells = "".join(
                f'<div class="bk-field">{text_object(f, self.names)}</div>' for f in fields
            )
            parts.append(f'<div class="bk-fields">{cells}</div>')
        body = f'<div class="bk-section-body">{"".join(parts)}</div>'
        accessory = block.get("accessory")
        if accessory is not None:
            body += f'<div class="bk-accessory">{self.element(accessory, block)}</div>'
        return f'<div class="bk-section">{body}</div>'

    def _block_header(self, block: Mapping[str, Any]) -> str:
        return f'<h3 class="bk-header">{plain(block.get("text"))}</h3>'

    def _block_divider(self, _block: Mapping[str, Any]) -> str:
        return '<hr class="bk-divider">'

    def _block_context(self, block: Mapping[str, Any]) -> str:
        items = []
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("type") == "image":
                items.append(self._image(element))
            elif isinstance(element, Mapping) and element.get("type") in ("mrkdwn", "plain_text"):
                items.append(f"<span>{text_object(element, self.names)}</span>")
            else:
                items.append(unknown("context element", element))
        return f'<div class="bk-context">{"".join(items)}</div>'

    def _block_actions(self, block: Mapping[str, Any]) -> str:
        elements = "".join(self.element(e, block) for e in block.get("elements") or [])
        return f'<div class="bk-actions" role="group">{elements}</div>'

    def _block_image(self, block: Mapping[str, Any]) -> str:
        title = block.get("title")
        caption = f"<figcaption>{plain(title)}</figcaption>" if title else ""
        return f'<figure class="bk-image">{self._image(block)}{caption}</figure>'

    @staticmethod
    def _image(element: Mapping[str, Any]) -> str:
        # No <img>: the page never fetches what a message points at.
        alt = element.get("alt_text") or "image"
        return f'<span class="bk-img" role="img" aria-label="{esc(alt)}">🖼 {esc(alt)}</span>'

    def _block_input(self, block: Mapping[str, Any]) -> str:
        element = block.get("element")
        field_id = self.new_id()
        block_id = str(block.get("block_id") or "")
        error = self.errors.get(block_id)
        hint = block.get("hint")
        described = []
        extra = ""
        if hint:
            hint_id = self.new_id()
            described.append(hint_id)
            extra += f'<p class="bk-hint" id="{hint_id}">{plain(hint)}</p>'
        if error:
            error_id = self.new_id()
            described.append(error_id)
            extra += f'<p class="bk-error" role="alert" id="{error_id}">{esc(error)}</p>'
        optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
        grouped = isinstance(element, Mapping) and element.get("type") in (
            "checkboxes",
            "radio_buttons",
        )
        control = self.element(
            element,
            block,
            field_id=field_id,
            described_by=" ".join(described),
            invalid=bool(error),
            # Slack's client refuses to submit an empty required input; so does the browser.
            required=not block.get("optional") and not grouped,
        )
        if grouped:  # a group of boxes is named by a legend, not a <label for>
            return (
                f'<fieldset class="bk-input{" has-error" if error else ""}">'
                f"<legend>{plain(block.get('label'))}{optional}</legend>{control}{extra}</fieldset>"
            )
        return (
            f'<div class="bk-input{" has-error" if error else ""}">'
            f'<label for="{field_id}">{plain(block.get("label"))}{optional}</label>'
            f"{control}{extra}</div>"
        )

    def _block_rich_text(self, block: Mapping[str, Any]) -> str:
        return f'<div class="bk-rich">{self._rich(block.get("elements"))}</div>'

    def _rich(self, elements: Any) -> str:
        out = []
        for el in elements if isinstance(elements, list) else []:
            if not isinstance(el, Mapping):
                continue
            kind = el.get("type")
            if kind in ("rich_text_section", "rich_text_quote", "rich_text_preformatted"):
                tag = {"rich_text_quote": "blockquote", "rich_text_preformatted": "pre"}.get(
                    str(kind), "p"
                )
                out.append(f"<{tag}>{self._rich(el.get('elements'))}</{tag}>")
            elif kind == "rich_text_list":
                items = "".join(f"<li>{self._rich([i])}</li>" for i in el.get("elements") or [])
                tag = "ol" if el.get("style") == "ordered" else "ul"
                out.append(f"<{tag}>{items}</{tag}>")
            else:
                out.append(self._rich_leaf(el))
        return "".join(out)

    def _rich_leaf(self, el: Mapping[str, Any]) -> str:
        kind = el.get("type")
        if kind == "text":
            text = esc(el.get("text")).replace("\n", "<br>")
            style = el.get("style") or {}
            for key, tag in (
                ("bold", "strong"),
                ("italic", "em"),
                ("strike", "del"),
                ("code", "code"),
            ):
                if isinstance(style, Mapping) and style.get(key):
                    text = f"<{tag}>{text}</{tag}>"
            return text
        if kind == "link":
            rendered = _token(f"{el.get('url', '')}|{el.get('text') or ''}", self.names)
            return rendered or esc(el.get("url"))
        if kind == "user":
            return _token(f"@{el.get('user_id', '')}", self.names) or ""
        if kind == "channel":
            return _token(f"#{el.get('channel_id', '')}", self.names) or ""
        if kind == "usergroup":
            return _special(f"subteam^{el.get('usergroup_id', '')}", "", self.names)
        if kind == "broadcast":
            return _special(str(el.get("range") or "here"), "", self.names)
        if kind == "emoji":
            return _emoji(esc(f":{el.get('name', '')}:"))
        return unknown("rich text element", el)

    def _block_markdown(self, block: Mapping[str, Any]) -> str:
        return f'<div class="bk-markdown">{mrkdwn(str(block.get("text") or ""), self.names)}</div>'

    # ------------------------------------------------------------ elements

    def element(
        self,
        element: Any,
        block: Mapping[str, Any],
        *,
        field_id: str | None = None,
        described_by: str = "",
        invalid: bool = False,
        required: bool = False,
    ) -> str:
        if not isinstance(element, Mapping):
            return unknown("element", element)
        kind = str(element.get("type") or "")
        method = getattr(self, f"_el_{kind}", None)
        if method is None:
            return unknown("element", element)
        attrs = _data_attrs(element, block)
        if field_id:
            attrs += f' id="{field_id}" data-input="1"'
        if described_by:
            attrs += f' aria-describedby="{described_by}"'
        if invalid:
            attrs += ' aria-invalid="true"'
        if required:
            attrs += " required"
        return method(element, attrs)

    def _el_button(self, el: Mapping[str, Any], attrs: str) -> str:
        style = el.get("style")
        classes = "bk-button" + (f" bk-{style}" if style in ("primary", "danger") else "")
        url = el.get("url")
        if isinstance(url, str) and _safe_url(url):
            attrs += f' data-url="{esc(url)}"'
        attrs += _confirm_attrs(el.get("confirm"))
        return f'<button type="button" class="{classes}"{attrs}>{plain(el.get("text"))}</button>'

    def _el_overflow(self, el: Mapping[str, Any], attrs: str) -> str:
        options = "".join(_option(o) for o in el.get("options") or [])
        return (
            f'<select class="bk-overflow" aria-label="More actions"{attrs}'
            f"{_confirm_attrs(el.get('confirm'))}>"
            f'<option value="" selected>⋯</option>{options}</select>'
        )

    def _select(self, el: Mapping[str, Any], attrs: str, options_html: str, chosen: bool) -> str:
        placeholder = plain_string(el.get("placeholder")) or "Select an option"
        if not _labelled(attrs):
            attrs += f' aria-label="{esc(placeholder)}"'
        first = f'<option value=""{"" if chosen else " selected"}>{esc(placeholder)}</option>'
        return f'<select class="bk-select"{attrs}>{first}{options_html}</select>'

    def _el_static_select(self, el: Mapping[str, Any], attrs: str) -> str:
        initial = el.get("initial_option")
        chosen = initial.get("value") if isinstance(initial, Mapping) else None
        options = "".join(_option(o, chosen) for o in el.get("options") or [])
        for group in el.get("option_groups") or []:
            if isinstance(group, Mapping):
                inner = "".join(_option(o, chosen) for o in group.get("options") or [])
                options += (
                    f'<optgroup label="{esc(plain_string(group.get("label")))}">{inner}</optgroup>'
                )
        return self._select(el, attrs, options, chosen is not None)

    def _el_external_select(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._el_static_select(el, attrs)

    def _people(self, chosen: Iterable[str]) -> str:
        picked = set(chosen)
        return "".join(
            f'<option value="{esc(uid)}"{" selected" if uid in picked else ""}>{esc(name)}</option>'
            for uid, name in self.names.people
        )

    def _el_users_select(self, el: Mapping[str, Any], attrs: str) -> str:
        initial = el.get("initial_user")
        chosen = [initial] if isinstance(initial, str) else []
        return self._select(el, attrs, self._people(chosen), bool(chosen))

    def _el_multi_users_select(self, el: Mapping[str, Any], attrs: str) -> str:
        chosen = [u for u in el.get("initial_users") or [] if isinstance(u, str)]
        if not _labelled(attrs):
            attrs += f' aria-label="{esc(plain_string(el.get("placeholder")) or "People")}"'
        return f'<select multiple class="bk-select"{attrs}>{self._people(chosen)}</select>'

    def _el_multi_static_select(self, el: Mapping[str, Any], attrs: str) -> str:
        chosen = {o.get("value") for o in el.get("initial_options") or [] if isinstance(o, Mapping)}
        options = "".join(_option(o, None, chosen) for o in el.get("options") or [])
        if not _labelled(attrs):
            attrs += f' aria-label="{esc(plain_string(el.get("placeholder")) or "Options")}"'
        return f'<select multiple class="bk-select"{attrs}>{options}</select>'

    def _boxes(self, el: Mapping[str, Any], attrs: str, kind: str, chosen: set[Any]) -> str:
        name = self.new_id()
        items = []
        for opt in el.get("options") or []:
            if not isinstance(opt, Mapping):
                continue
            box_id = self.new_id()
            checked = " checked" if opt.get("value") in chosen else ""
            description = opt.get("description")
            desc = (
                f'<span class="bk-desc">{text_object(description, self.names)}</span>'
                if description
                else ""
            )
            items.append(
                f'<div class="bk-box"><input type="{kind}" id="{box_id}" name="{name}" '
                f'value="{esc(opt.get("value"))}"{checked}>'
                f'<label for="{box_id}">{text_object(opt.get("text"), self.names)}{desc}'
                "</label></div>"
            )
        return f'<div class="bk-{kind}-group" role="group"{attrs}>{"".join(items)}</div>'

    def _el_checkboxes(self, el: Mapping[str, Any], attrs: str) -> str:
        chosen = {o.get("value") for o in el.get("initial_options") or [] if isinstance(o, Mapping)}
        return self._boxes(el, attrs, "checkbox", chosen)

    def _el_radio_buttons(self, el: Mapping[str, Any], attrs: str) -> str:
        initial = el.get("initial_option")
        chosen = {initial.get("value")} if isinstance(initial, Mapping) else set()
        return self._boxes(el, attrs, "radio", chosen)

    def _el_plain_text_input(self, el: Mapping[str, Any], attrs: str) -> str:
        placeholder = plain_string(el.get("placeholder"))
        if placeholder:
            attrs += f' placeholder="{esc(placeholder)}"'
        if isinstance(el.get("max_length"), int):
            attrs += f' maxlength="{int(el["max_length"])}"'
        value = el.get("initial_value") or ""
        if el.get("multiline"):
            return f'<textarea class="bk-textarea" rows="4"{attrs}>{esc(value)}</textarea>'
        return f'<input type="text" class="bk-text-input"{attrs} value="{esc(value)}">'

    def _typed_input(self, kind: str, initial_key: str) -> Callable[[Mapping[str, Any], str], str]:
        def render(el: Mapping[str, Any], attrs: str) -> str:
            value = esc(el.get(initial_key) or "")
            return f'<input type="{kind}" class="bk-text-input"{attrs} value="{value}">'

        return render

    def _el_email_text_input(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._typed_input("email", "initial_value")(el, attrs)

    def _el_url_text_input(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._typed_input("url", "initial_value")(el, attrs)

    def _el_number_input(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._typed_input("number", "initial_value")(el, attrs)

    def _el_datepicker(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._typed_input("date", "initial_date")(el, attrs)

    def _el_timepicker(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._typed_input("time", "initial_time")(el, attrs)

    def _el_image(self, el: Mapping[str, Any], attrs: str) -> str:
        return self._image(el)


def _labelled(attrs: str) -> bool:
    """True when the control has an id (an input block's <label for> names it)."""
    return ' id="' in attrs


def _data_attrs(element: Mapping[str, Any], block: Mapping[str, Any]) -> str:
    return (
        f' data-action-id="{esc(element.get("action_id") or "")}"'
        f' data-block-id="{esc(block.get("block_id") or "")}"'
        f' data-type="{esc(element.get("type"))}"'
    )


def _confirm_attrs(confirm: Any) -> str:
    """A confirm dialog's texts, for the page's script to show before acting."""
    if not isinstance(confirm, Mapping):
        return ""
    parts = {
        "title": plain_string(confirm.get("title")) or "Are you sure?",
        "text": plain_string(confirm.get("text")),
        "yes": plain_string(confirm.get("confirm")) or "Yes",
        "no": plain_string(confirm.get("deny")) or "Cancel",
    }
    return "".join(f' data-confirm-{key}="{esc(value)}"' for key, value in parts.items())


def _option(opt: Any, chosen: Any = None, chosen_set: set[Any] | None = None) -> str:
    if not isinstance(opt, Mapping):
        return ""
    value = opt.get("value")
    selected = value is not None and (value == chosen or value in (chosen_set or set()))
    text = plain_string(opt.get("text"))
    return f'<option value="{esc(value)}"{" selected" if selected else ""}>{esc(text)}</option>'
