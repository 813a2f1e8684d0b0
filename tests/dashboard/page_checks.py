"""Shared by the console page tests: users, a mapping row, and checks on the HTML a page sends."""
from __future__ import annotations

from html.parser import HTMLParser

from django.conf import settings
from django.http import HttpResponse

from connectors.models import KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from devstack.health import free_port

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}



def make_mapping(name: str = "accounts") -> ObjectMapping:
    """A mapping whose services are nowhere: for pages that only read the database."""
    org = SalesforceOrg.objects.get_or_create(name="o", defaults={"login_url": "https://login.salesforce.com"})[0]
    kafka = KafkaCluster.objects.get_or_create(name="k", defaults={"bootstrap_servers": f"127.0.0.1:{free_port()}"})[0]
    mongo = MongoTarget.objects.get_or_create(
        name="m", defaults={"uri": f"mongodb://127.0.0.1:{free_port()}", "database": "db"})[0]
    return ObjectMapping.objects.create(name=name, org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                        collection=name, direction="both")


def sent_to_log_in(response: HttpResponse) -> bool:
    """An anonymous visitor goes to the console's own login page, to come back afterwards."""
    return response.status_code == 302 and response["Location"].startswith(f"{settings.LOGIN_URL}?next=")


def refused(response: HttpResponse) -> bool:
    """A logged-in user without the role is told which one is missing (dashboard.access)."""
    return response.status_code == 403 and "Not allowed" in response.content.decode()


class _Messages(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ul" and dict(attrs).get("id") == "messages":
            self._inside = True
        elif tag == "li" and self._inside:
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside and self.texts:
            self.texts[-1] += data


def shown(response: HttpResponse) -> list[str]:
    """The messages a page shows (after an action: post with follow=True)."""
    parser = _Messages()
    parser.feed(response.content.decode())
    return [text.strip() for text in parser.texts]


class _Controls(HTMLParser):
    """Collects form controls and the ids that a <label for> names, and whether each control
    sits inside a <label>."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.forms: list[tuple[str, list[str]]] = []  # per <form>: its method and its inputs' names
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self._label_depth += 1
            if found.get("for"):
                self.label_for.add(found["for"] or "")
        elif tag == "form":
            self.forms.append(((found.get("method") or "get").lower(), []))
        elif tag in ("input", "select", "textarea"):
            if self.forms:
                self.forms[-1][1].append(found.get("name") or "")
            if tag == "input" and (found.get("type") or "text") in UNLABELLED_TYPES:
                return
            self.controls.append({**found, "_tag": tag, "_in_label": "yes" if self._label_depth else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth = max(0, self._label_depth - 1)


def unlabelled_controls(html: str) -> list[str]:
    """Every input, select and textarea without a <label>, aria-label or aria-labelledby."""
    parser = _Controls()
    parser.feed(html)
    return [
        f"{c['_tag']} name={c.get('name')!r} id={c.get('id')!r}" for c in parser.controls
        if not (c["_in_label"] or c.get("aria-label") or c.get("aria-labelledby") or c.get("id") in parser.label_for)
    ]


def post_forms_without_csrf(html: str) -> int:
    """How many method=post forms lack the CSRF token field."""
    parser = _Controls()
    parser.feed(html)
    return sum(1 for method, names in parser.forms if method == "post" and "csrfmiddlewaretoken" not in names)
