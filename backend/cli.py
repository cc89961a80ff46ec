"""The ``lanterne`` command: one Flask CLI group for operators.

Commands from ``nlp`` and ``workers`` join the group through the ``flask.commands`` entry
points declared in pyproject.toml, so ``backend`` never imports them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from backend.app import create_app
from backend.cli_apikey import apikey_group
from backend.cli_staff import staff_cli
from backend.cli_streets import streets_group
from backend.cli_webhooks import webhooks_group
from backend.config import config_from_env
from backend.extensions import db, redis_conn


def _create_app() -> object:
    return create_app(config_from_env())


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    set_debug_flag=False,
    load_dotenv=False,
)
def main() -> None:
    """Lanterne: citizen reports, weak signals and neighbourhood indicators."""


main.add_command(staff_cli)
main.add_command(apikey_group)
main.add_command(streets_group)
main.add_command(webhooks_group)


# --- db -------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (the latest by default) and seed the catalogue."""
    from backend import migrate

    added = migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(
        f"Database at {revision}." + (f" Catalogue: {added} services added." if added else "")
    )


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` drops every table)."""
    from backend import migrate

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database at {revision}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the database's revision."""
    from backend import migrate

    migrate.current(current_app.config["DATABASE_URL"])


# --- areas ----------------------------------------------------------------------------------


@main.group("areas")
def areas_group() -> None:
    """Neighbourhoods."""


@areas_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", required=True, help="e.g. quartier, arrondissement")
@click.option("--code-field", required=True, help="property holding the area code")
@click.option("--name-field", required=True, help="property holding the area name")
@click.option("--parent-field", default=None, help="property holding the parent area's code")
@click.option("--population-field", default=None, help="property holding the population")
@with_appcontext
def areas_import(
    file: Path,
    level: str,
    code_field: str,
    name_field: str,
    parent_field: str | None,
    population_field: str | None,
) -> None:
    """Import (or update) areas from a GeoJSON FeatureCollection of polygons."""
    from backend.services.areas import AreaImportError, import_areas, read_features

    try:
        features = read_features(file)
        with (
            db.new_session() as session,
            click.progressbar(length=len(features), label="Areas", file=sys.stderr) as bar,
        ):
            summary = import_areas(
                session=session,
                features=features,
                level=level,
                code_field=code_field,
                name_field=name_field,
                parent_field=parent_field,
                population_field=population_field,
                progress=bar.update,
            )
    except AreaImportError as exc:
        raise click.ClickException(f"{exc}. Nothing was imported.") from exc
    click.echo(
        f"{summary.created + summary.updated} areas of level {level}: "
        f"{summary.created} created, {summary.updated} updated."
    )


@areas_group.command("population")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--code-field", required=True, help="column holding the area code")
@click.option("--population-field", required=True, help="column holding the population")
@with_appcontext
def areas_population(file: Path, code_field: str, population_field: str) -> None:
    """Load the population of each area from a CSV (comma, semicolon or tab separated)."""
    from backend.services.areas import PopulationError, load_population

    try:
        with db.new_session() as session:
            summary = load_population(
                session=session,
                path=file,
                code_field=code_field,
                population_field=population_field,
            )
    except PopulationError as exc:
        raise click.ClickException(f"{exc}. Nothing was loaded.") from exc
    click.echo(f"Population loaded for {summary.updated} areas.")
    if summary.unknown:
        shown = ", ".join(summary.unknown[:10]) + ("..." if len(summary.unknown) > 10 else "")
        click.echo(f"{len(summary.unknown)} codes match no imported area: {shown}", err=True)


# --- outbox ---------------------------------------------------------------------------------


@main.group("outbox")
def outbox_group() -> None:
    """The outbox: jobs committed with their data, on their way to RQ."""


@outbox_group.command("drain")
@with_appcontext
def outbox_drain() -> None:
    """Push again the jobs not done that RQ lost, dropped or never had."""
    import redis

    from backend.services import outbox

    with db.new_session() as session:
        try:
            redis_conn.client.ping()
        except redis.RedisError as exc:
            left = outbox.pending_count(session=session)
            raise click.ClickException(
                f"Redis does not answer ({exc}); {left} jobs wait in the outbox. "
                "Start Redis (or fix REDIS_URL) and run this again."
            ) from exc
        total = 0
        while sent := outbox.dispatch_pending(session=session, connection=redis_conn.client):
            total += sent
        left = outbox.pending_count(session=session)
    # Every row left is in RQ's hands: in its queue, or running on a live worker (or written
    # in the last seconds, left to the relay).
    click.echo(f"{total} jobs pushed to RQ; {left} not done yet (queued or running).")


@outbox_group.command("relay")
@click.option(
    "--interval",
    default=0.2,
    show_default=True,
    type=click.FloatRange(min=0.01, max=60),
    help="seconds between looks at the outbox when nothing waits",
)
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="jobs pushed to RQ per round trip",
)
@click.option("--once", is_flag=True, help="push what waits now, then stop")
@with_appcontext
def outbox_relay(interval: float, batch: int, once: bool) -> None:
    """Push waiting jobs to RQ in batches, until stopped.

    The Procfile's relay process: it claims the jobs that wait in the outbox, oldest first,
    and pushes each batch in one round trip. Several relays may run side by side on
    PostgreSQL. Stop it with SIGTERM or Ctrl-C.
    """
    import signal
    import threading

    import redis
    from sqlalchemy.exc import DBAPIError

    from backend.services import outbox

    engine, client = db.engine, redis_conn.client
    if once:
        try:
            total = outbox.relay_all(engine=engine, connection=client, limit=batch)
        except DBAPIError as exc:
            raise click.ClickException(
                f"The database does not answer ({exc.orig}); check DATABASE_URL and run this "
                "again. The jobs pushed so far stay pushed."
            ) from exc
        except redis.RedisError as exc:
            with db.new_session() as session:
                left = outbox.waiting_count(session=session)
            raise click.ClickException(
                f"Redis does not answer ({exc}); {left} jobs wait in the outbox. "
                "Start Redis (or fix REDIS_URL) and run this again."
            ) from exc
        click.echo(f"{total} jobs pushed to RQ; none waits in the outbox.")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Outbox relay: every {interval} s, {batch} jobs a round trip.", err=True)
    total = outbox.relay(
        engine=engine, connection=client, stop=stop, interval=interval, limit=batch
    )
    click.echo(f"Outbox relay stopped: {total} jobs pushed to RQ.", err=True)


# --- demo -----------------------------------------------------------------------------------


@main.command("demo")
@click.option("--reports", "count", default=3000, show_default=True, help="how many reports")
@click.option("--days", default=365, show_default=True, help="over how many days, to today")
@click.option("--seed", default=13, show_default=True)
@click.option("--if-empty", is_flag=True, help="do nothing when reports already exist")
@with_appcontext
def demo(count: int, days: int, seed: int, if_empty: bool) -> None:
    """Load a realistic demo data set: reports over a year, in French and English."""
    from backend.demo import generate_demo

    with (
        db.new_session() as session,
        click.progressbar(length=count, label="Demo reports", file=sys.stderr) as bar,
    ):
        summary = generate_demo(
            session=session,
            count=count,
            days=days,
            seed=seed,
            if_empty=if_empty,
            progress=bar.update,
        )
    click.echo(summary)


# --- run ------------------------------------------------------------------------------------


@main.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, envvar="LANTERNE_HOST")
@click.option("--port", default=5000, show_default=True, envvar="PORT", help="also PORT")
@click.option(
    "--workers",
    "web_workers",
    default=2,
    show_default=True,
    envvar="WEB_CONCURRENCY",
    help="gunicorn workers (also WEB_CONCURRENCY)",
)
def run(host: str, port: int, web_workers: int) -> None:
    """Serve the Procfile's web, worker, relay and scheduler, restarted if one dies.

    supervisord runs them in the foreground (and the embedded Redis on the default); Ctrl-C
    stops everything.
    """
    from backend import migrate, runtime
    from backend.redis_conn import (
        answers,
        embedded_redis_command,
        embedded_redis_url,
        private_dump,
        supervisor_pid,
    )

    config = config_from_env()
    instance = Path(config.INSTANCE_PATH).resolve()
    embedded = not config.REDIS_URL
    redis_url = config.REDIS_URL or embedded_redis_url(instance)
    if pid := supervisor_pid(instance):
        raise click.ClickException(f"`lanterne run` already serves {instance} (pid {pid}).")
    if embedded and answers(redis_url):
        raise click.ClickException(
            f"another process serves the embedded Redis at {redis_url}; stop it first."
        )
    if embedded:
        private_dump(instance)
    # The app is built for its settings only (the instance folder, the default database); the
    # Redis URL is given, so this process starts no Redis: the supervisor does.
    app = create_app(config, REDIS_URL=redis_url)
    database_url = app.config["DATABASE_URL"]
    app.extensions["lanterne.db"].dispose()
    if problem := migrate.not_migrated(database_url):
        raise click.ClickException(problem)
    try:
        processes = runtime.procfile_processes()
    except OSError as exc:
        raise click.ClickException(f"cannot read the Procfile ({exc}).") from exc
    conf = instance / "supervisord.conf"
    conf.write_text(
        runtime.supervisord_config(
            instance=instance,
            processes=processes,
            redis_command=embedded_redis_command(instance) if embedded else None,
        )
    )
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    # The Procfile's commands read these (a Procfile runner's environment).
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        LANTERNE_INSTANCE_PATH=str(instance),
        LANTERNE_HOST=host,
        PORT=str(port),
        WEB_CONCURRENCY=str(web_workers),
        PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
    )
    env.setdefault("LANTERNE_PUBLIC_BASE_URL", f"http://{host}:{port}")
    click.echo(f"Lanterne on http://{host}:{port}/ (Ctrl-C stops everything)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # supervisord takes this process's place: its pid is the one to signal.
    supervisord = [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)]
    os.execve(sys.executable, supervisord, env)  # noqa: S606 (our interpreter, no shell)
