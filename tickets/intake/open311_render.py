"""Open311 answers in the two formats the spec names: XML (required) and JSON.

One structure of Python values renders as both. In JSON it stays what it is; in XML
every dict becomes an element per key and every list an element per item, named by
the spec's singular of the list (`attributes` holds `attribute`s, `values` `value`s),
booleans read `true`/`false` and None an empty element. Text is escaped by the
serialisers, never by hand.
"""

import json
import re
from xml.etree import ElementTree

from django.http import HttpResponse

FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

# The element that holds each item of a list, by the list's own element.
_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}

# Characters XML 1.0 cannot carry at all, escaped or not (C0 controls but tab and line
# ends, lone surrogates, U+FFFE/U+FFFF): replaced, so a stray control character sent
# in by a client never makes the whole answer unreadable.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _build(parent: ElementTree.Element, name: str, value) -> None:
    element = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _build(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _build(element, _ITEMS[name], item)
    else:
        element.text = _text(value)


def to_xml(root: str, data) -> bytes:
    """Return the document `<root>` holding `data`, with its UTF-8 declaration."""
    holder = ElementTree.Element("holder")
    _build(holder, root, data)
    body = ElementTree.tostring(holder[0], encoding="unicode", short_empty_elements=False)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


def respond(fmt: str, root: str, data, *, status: int = 200) -> HttpResponse:
    """Answer `data` in the client's format; `root` names the XML document's element."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    else:
        body = to_xml(root, data)
    return HttpResponse(body, status=status, content_type=FORMATS.get(fmt, FORMATS["xml"]))


def respond_errors(fmt: str, status: int, descriptions: list[str], *, headers: dict | None = None) -> HttpResponse:
    """Answer the spec's error list: one `{code, description}` per problem, code the HTTP status."""
    errors = [{"code": status, "description": description} for description in descriptions]
    response = respond(fmt if fmt in FORMATS else "xml", "errors", errors, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def format_of(path: str) -> str:
    """Return the format a path asks for by its extension; XML, the spec's own, otherwise."""
    return "json" if path.rstrip("/").endswith(".json") else "xml"
