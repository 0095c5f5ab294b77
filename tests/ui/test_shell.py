"""The shell paints the first pane before it loads the rest: what the first screen imports, and
the panes mounted after it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from w365tui.ui.panes import PANES

from .conftest import Running

pytestmark = pytest.mark.anyio


def test_the_first_screen_loads_no_models_no_service_client_and_no_other_pane() -> None:
    """What `w365tui` imports before its first paint: pydantic, httpx and the domain's models
    (a quarter of a second together) come after it, on a thread."""
    probe = ("import sys\n"
             "from w365tui.cli import main\n"
             "from w365tui.settings_file import first_look\n"
             "from w365tui.ui.app import W365App\n"
             "from w365tui.ui.panes import PANES\n"
             "PANES[0].load()\n"
             "heavy = ('pydantic', 'httpx', 'w365tui.settings', 'w365tui.session', 'w365tui.domain.models',\n"
             "         'w365tui.domain.streamone', 'w365tui.domain.plan', *(p.module for p in PANES[1:]))\n"
             "print(' '.join(name for name in heavy if name in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_the_registry_names_each_pane_as_its_class_does() -> None:
    for spec in PANES:
        pane = spec.load()
        assert (spec.pane_id, spec.title) == (pane.PANE_ID, pane.TITLE)


async def test_every_pane_is_mounted_and_started_after_the_first_paint(running: Running) -> None:
    app = running.app
    await running.until(app.panes_ready.is_set)
    panes = app.panes
    assert [pane.PANE_ID for pane in panes] == [spec.pane_id for spec in PANES]
    assert all(pane.session is app.session for pane in panes)
    await running.press("4")
    assert app.active_pane is panes[3]


async def test_the_footer_is_laid_out_again_only_when_its_keys_change(running: Running,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from w365tui.ui.widgets.footer import KeysFooter

    laid_out: list[int] = []
    original = Footer.recompose

    async def counted(self: Footer) -> None:
        laid_out.append(1)
        await original(self)

    monkeypatch.setattr(Footer, "recompose", counted)
    asked: list[int] = []  # the footer asked to lay itself out again (what bindings_changed sets off)
    asking = KeysFooter.recompose

    async def asked_for(self: KeysFooter) -> None:
        await asking(self)
        asked.append(1)

    monkeypatch.setattr(KeysFooter, "recompose", asked_for)
    app = running.app
    footer = app.query_one(KeysFooter)

    def keys() -> set[str]:
        return {key.key for key in footer.query(FooterKey)}

    assert "slash" in keys() and "m" in keys()
    footer.bindings_changed(app.screen)  # signalled, nothing changed
    await running.until(lambda: bool(asked))
    assert laid_out == []
    await running.press("slash")  # the filter box: the list's keys are not the box's
    await running.until(lambda: "m" not in keys())
    assert laid_out
    await running.press("escape")
    await running.until(lambda: "m" in keys())


async def test_bulk_work_waits_while_the_operator_types(running: Running) -> None:
    """A key marks the operator as active; bulk work pausing by make_way (the list loading, the
    session's long reads) goes on only once they stop."""
    import asyncio
    import time

    app = running.app
    assert app.session is not None and app.session.reads.pause == app._read_pause
    before = app.last_input
    await running.press("j")
    assert app.last_input > before

    app.last_input = time.monotonic() + 3600  # typing, as far as make_way can tell
    paused = asyncio.ensure_future(app.make_way())
    read = asyncio.ensure_future(app.session.reads.pause())
    await running.pilot.pause(0.2)
    assert not paused.done() and not read.done()
    app.last_input = 0.0  # they stopped
    await running.until(lambda: paused.done() and read.done())


def test_the_clients_warm_up_loads_what_the_first_request_would_and_tolerates_a_library_change() -> None:
    probe = ("import sys\n"
             "from w365tui.ui.app import CLIENT_MODULES, _load\n"
             "_load((*CLIENT_MODULES, 'a_transport_no_longer_shipped'))\n"
             "print(all(name in sys.modules for name in CLIENT_MODULES))\n")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
    with pytest.raises(ImportError):
        from w365tui.ui.app import _load

        _load(["w365tui.no_such_module"])
