"""`etablera webhook add|list|remove|deliveries|retry|deliver`: the systems told of each
state change (cases/webhooks.py). `deliver` is the one-off run of what the `webhooks`
deployment of `etablera serve` does every minute (flows/webhooks.py)."""

from __future__ import annotations

import click

from etablera.interfaces.cli.common import common, principal
from etablera.interfaces.cli.output import emit, table, wording
from etablera.models.database import get_engine

WORDS = {
    "added": ("prenumerationen {name} skickar till {url}\nsigneringsnyckel (visas bara nu): {secret}",
              "subscription {name} sends to {url}\nsigning secret (shown only now): {secret}"),
    "removed": ("prenumerationen {name} borttagen ({n} leveranser)", "subscription {name} removed ({n} deliveries)"),
    "retried": ("{n} döda leveranser skickas igen", "{n} dead deliveries will be sent again"),
    "delivered": ("{recorded} nya, {sent} skickade, {failed} misslyckade, {dead} döda",
                  "{recorded} new, {sent} sent, {failed} failed, {dead} dead"),
}
SUBSCRIPTION_COLUMNS = [("name", "namn", "name"), ("url", "adress", "URL"), ("places", "kommuner", "municipalities"),
                        ("counts", "leveranser", "deliveries"), ("created_at", "skapad", "created")]
DELIVERY_COLUMNS = [("id", "id", "id"), ("subscription", "prenumeration", "subscription"),
                    ("case_id", "ärende", "case"), ("seq", "nr", "seq"), ("status", "status", "status"),
                    ("attempts", "försök", "attempts"), ("last_error", "senaste fel", "last error")]
_w = wording(WORDS)


@click.group("webhook")
def webhook():
    """Webhooks: other systems sent each state change (CloudEvents, signed)."""


@webhook.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--municipality", "municipalities", multiple=True, metavar="CODE",
              help="Only this municipality's cases (repeatable; default all).")
@click.option("--from-start", is_flag=True, help="Also every earlier event (default: from now on).")
@common
def add(options, name, url, municipalities, from_start):
    """Send the state changes to URL as subscription NAME; prints the signing secret once."""
    from etablera.cases import webhooks
    engine = get_engine()
    doc = webhooks.add(engine, principal(options, engine), name, url, municipalities=municipalities,
                       from_start=from_start)
    emit(options, doc, lambda d: _w("added", options.lang, **d))


@webhook.command("list")
@common
def list_(options):
    """The subscriptions and their deliveries by status."""
    from etablera.cases import webhooks
    engine = get_engine()
    docs = webhooks.subscriptions(engine, principal(options, engine))
    rows = [{**d, "places": " ".join(d["municipalities"] or ["*"]),
             "counts": " ".join(f"{k}={v}" for k, v in sorted(d["deliveries"].items()))} for d in docs]
    emit(options, docs, lambda _: table(rows, SUBSCRIPTION_COLUMNS, options.lang))


@webhook.command("remove")
@click.argument("name")
@common
def remove(options, name):
    """Remove subscription NAME and its deliveries."""
    from etablera.cases import webhooks
    engine = get_engine()
    doc = webhooks.remove(engine, principal(options, engine), name)
    emit(options, doc, lambda d: _w("removed", options.lang, name=d["name"], n=d["deliveries_removed"]))


@webhook.command("deliveries")
@click.option("--name", default=None, help="Only this subscription's.")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "dead"]), default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@common
def deliveries(options, name, status, limit):
    """The latest deliveries (dead ones hold their case's later ones back until retried)."""
    from etablera.cases import webhooks
    engine = get_engine()
    docs = webhooks.deliveries(engine, principal(options, engine), name, status, limit)
    emit(options, docs, lambda d: table(d, DELIVERY_COLUMNS, options.lang))


@webhook.command("retry")
@click.argument("name")
@common
def retry(options, name):
    """Send subscription NAME's dead deliveries again."""
    from etablera.cases import webhooks
    engine = get_engine()
    n = webhooks.retry(engine, principal(options, engine), name)
    emit(options, {"retried": n}, lambda d: _w("retried", options.lang, n=d["retried"]))


@webhook.command("deliver")
@common
def deliver(options):
    """Record the new events and send what is due, now (what `etablera serve` does each minute)."""
    from etablera.cases import webhooks
    result = webhooks.deliver(get_engine())
    emit(options, result.as_dict(), lambda d: _w("delivered", options.lang, **d))
