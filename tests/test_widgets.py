"""The widget layer: text alternatives, the numbers table, the prediction nudge,
live buttons, coalesced redraws, named controls and contrast on white."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from labkit import charts, widgets
from labkit.errors import LabError


@pytest.fixture(autouse=True)
def _no_predictions():
    """Each test starts as a fresh kernel would: no prediction asked yet."""
    saved = list(widgets._predictions)
    widgets._predictions.clear()
    yield
    widgets._predictions[:] = saved


def _hit_ratio_chart(fig, cache_size):
    ax = fig.axes[0]
    sizes = np.array([1, 2, 5, 10, 20])
    ax.plot(sizes, 0.2 + 0.02 * sizes * cache_size / 10, label="LRU", **charts.series_style(0))
    ax.plot(sizes, 0.3 + 0.02 * sizes * cache_size / 10, label="W-TinyLFU", **charts.series_style(1))
    charts.finish(ax, title=f"W-TinyLFU leads at size {cache_size}", xlabel="cache size (% of keys)",
                  ylabel="hit ratio")
    return f"size {cache_size}"


def _bars(fig):
    ax = fig.axes[0]
    ax.bar(["LRU", "SIEVE", "OPT"], [23, 41, 52])
    charts.finish(ax, title="OPT leads, LRU last", xlabel="policy", ylabel="hit ratio (%)")


# --- text alternatives --------------------------------------------------------


def test_a_line_chart_is_described_by_its_title_and_numbers():
    fig = charts.new_figure()
    _hit_ratio_chart(fig, 10)
    text = charts.describe(fig)
    assert text.startswith("W-TinyLFU leads at size 10.")
    # each line's last value, at the last x, from the same data the chart draws
    assert "LRU 0.6 at 20" in text and "W-TinyLFU 0.7 at 20" in text
    assert "Hit ratio by cache size (% of keys)" in text


def test_bars_are_described_bar_by_bar_with_their_labels():
    fig = charts.new_figure()
    _bars(fig)
    assert charts.describe(fig) == "OPT leads, LRU last. Hit ratio (%) by policy: LRU 23, SIEVE 41, OPT 52."


def test_a_peak_before_the_end_is_named():
    fig = charts.new_figure()
    ax = fig.axes[0]
    ax.plot([0, 1, 2, 3], [1, 200, 3, 2], label="DB queries")
    ax.axhline(1, label="limit: 1 query per expiry", **charts.LIMIT_STYLE)
    charts.finish(ax, title="The herd peaks at once", xlabel="time (ms)", ylabel="queries")
    text = charts.describe(fig)
    assert "DB queries 2 at 3 (highest 200 at 1)" in text
    assert "limit: 1 query per expiry at 1" in text


def test_the_text_names_categories_and_percent_axes_as_the_ticks_do():
    from matplotlib.ticker import PercentFormatter

    fig = charts.new_figure()
    ax = fig.axes[0]
    ax.plot(["cold", "warm", "hot"], [0.1, 0.5, 0.9], label="hit ratio")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    charts.finish(ax, title="Hotter keys hit more", xlabel="key temperature", ylabel="hit ratio")
    assert "hit ratio 90% at hot" in charts.describe(fig)


def test_many_series_are_summarised_not_dumped():
    fig = charts.new_figure()
    ax = fig.axes[0]
    for i in range(9):
        ax.plot([0, 1], [i, i + 1], label=f"series {i}")
    charts.finish(ax, title="Nine lines", xlabel="x (s)", ylabel="y (ms)")
    text = charts.describe(fig)
    assert "and 3 more series" in text and "series 8" not in text


def test_a_live_plot_sets_its_image_text_on_every_redraw():
    plot = widgets.LivePlot(_hit_ratio_chart, {"cache_size": widgets.int_slider("size", 1, 50, 1, 10)})
    first = plot.image.tooltip
    assert first == plot.alt_text and first.startswith("W-TinyLFU leads at size 10.")
    plot.set(cache_size=20)
    assert plot.image.tooltip.startswith("W-TinyLFU leads at size 20.") and plot.image.tooltip != first
    assert "LRU 1 at 20" in plot.image.tooltip  # the new numbers, not the old ones


def test_the_chart_image_model_carries_a_description_so_its_text_reaches_the_img():
    # ipywidgets' view writes the tooltip onto the <img> (as title) only when the model's
    # description is "" (Image has none); the page's snippet then moves it to alt.
    plot = widgets.LivePlot(_hit_ratio_chart, {"cache_size": widgets.int_slider("size", 1, 50, 1, 10)})
    state = plot.image.get_state()
    assert state["description"] == "" and state["tooltip"] == plot.alt_text


def test_the_page_snippet_moves_a_chart_images_title_to_alt_on_every_redraw():
    js = widgets._ACCESSIBILITY_JS
    assert "img.setAttribute('alt', img.getAttribute('title'))" in js and "img.removeAttribute('title')" in js
    # a redraw sets the title again: the observer must see attribute changes, not only new nodes
    assert "attributeFilter: ['title']" in js


# --- the numbers table --------------------------------------------------------


def test_the_numbers_table_holds_the_chart_data():
    fig = charts.new_figure()
    _bars(fig)
    rows = charts.numbers(fig)
    assert [(r["x"], r["y"]) for r in rows] == [("LRU", "23"), ("SIEVE", "41"), ("OPT", "52")]
    table = charts.numbers_html(fig)
    assert "<caption>OPT leads, LRU last</caption>" in table and "<td>SIEVE</td><td>41</td>" in table
    assert "<th scope='col'>hit ratio (%)</th>" in table


def test_long_series_are_thinned_keeping_the_last_and_the_highest():
    fig = charts.new_figure()
    ax = fig.axes[0]
    y = np.ones(1000)
    y[437] = 99
    ax.plot(np.arange(1000), y, label="load")
    charts.finish(ax, title="One spike", xlabel="second", ylabel="queries/s")
    rows = charts.numbers(fig)
    assert len(rows) <= 13
    assert ("437", "99") in [(r["x"], r["y"]) for r in rows] and rows[-1]["x"] == "999"


def test_the_numbers_toggle_is_off_by_default_and_follows_redraws():
    plot = widgets.LivePlot(_hit_ratio_chart, {"cache_size": widgets.int_slider("size", 1, 50, 1, 10)})
    assert plot.numbers_toggle.value is False and plot.numbers.value == ""
    plot.numbers_toggle.value = True
    assert "W-TinyLFU leads at size 10" in plot.numbers.value
    plot.set(cache_size=30)
    assert "W-TinyLFU leads at size 30" in plot.numbers.value
    plot.numbers_toggle.value = False
    assert plot.numbers.value == ""


# --- the prediction nudge -----------------------------------------------------


def _draw_line(fig, n):
    ax = fig.axes[0]
    ax.plot([0, n], [0, n], label="n")
    charts.finish(ax, title=f"Up to {n}", xlabel="x (s)", ylabel="y (s)")


def test_an_experiment_after_an_unlocked_prediction_nudges_once_and_runs(capsys):
    widgets.predict("Which is faster?", ["a", "b"])
    plot = widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 9, 1, 2)})
    assert plot.redraws == 1  # it ran anyway
    assert capsys.readouterr().out.strip() == widgets.NUDGE
    widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 9, 1, 2)})
    assert capsys.readouterr().out == ""  # once per prediction


def test_no_nudge_after_the_learner_locked_in(capsys):
    box = widgets.predict("Which is faster?", ["a", "b"])
    box.choices.value = "b"
    box.lock.click()
    assert box.prediction.locked
    widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 9, 1, 2)})
    fig = charts.new_figure()
    _draw_line(fig, 3)
    charts.show(fig)
    assert widgets.NUDGE not in capsys.readouterr().out


def test_locking_without_a_choice_does_not_lock(capsys):
    box = widgets.predict("Which is faster?", ["a", "b"])
    box.lock.click()
    assert not box.prediction.locked
    assert widgets.nudge_if_unlocked() is True


def test_no_prediction_no_nudge_and_a_static_chart_nudges_too(capsys):
    assert widgets.nudge_if_unlocked() is False
    widgets.predict("Which is faster?", ["a", "b"])
    fig = charts.new_figure()
    _draw_line(fig, 3)
    charts.show(fig)
    assert widgets.NUDGE in capsys.readouterr().out


def test_the_nudge_never_raises(monkeypatch):
    class Broken:
        @property
        def locked(self):
            raise RuntimeError("boom")

    widgets._predictions.append(Broken())
    assert widgets.nudge_if_unlocked() is False


# --- static charts --------------------------------------------------------------


def test_show_displays_an_img_with_its_text_and_no_figure_repr(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fig = charts.new_figure()
    _bars(fig)
    assert charts.show(fig) is None
    html = shown[0].data
    assert html.startswith("<img src='data:image/png;base64,")
    assert "alt='OPT leads, LRU last. Hit ratio (%) by policy: LRU 23, SIEVE 41, OPT 52.'" in html
    assert "<summary>Show the numbers</summary>" in html and "<Figure" not in html
    charts.show(fig, alt="Three bars.")
    assert "alt='Three bars.'" in shown[1].data


# --- speed: coalescing, busy state, live buttons --------------------------------


class _Gate:
    """A draw function that records the values it drew and can be held mid-draw."""

    def __init__(self):
        self.drawn = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, fig, n):
        self.entered.set()
        assert self.release.wait(10)
        self.drawn.append(n)
        _draw_line(fig, n)


def test_a_burst_of_browser_changes_draws_once_with_the_last_value():
    gate = _Gate()
    slider = widgets.int_slider("n", 1, 50, 1, 1)
    plot = widgets.LivePlot(gate, {"n": slider})
    gate.release.clear()
    gate.entered.clear()
    slider.set_state({"value": 2})  # as the browser sends a key press
    assert gate.entered.wait(5)  # the redraw of 2 is under way (in the background)
    assert plot.busy and "updating…" in plot.status.value
    for value in (3, 4, 5, 6):  # four more presses while it draws
        slider.set_state({"value": value})
    gate.release.set()
    assert plot.wait_idle(10)
    assert gate.drawn == [1, 2, 6]  # 3, 4 and 5 were never drawn: the last value won
    assert plot.last_values == {"n": 6} and plot.redraws == 3
    assert not plot.busy and "updating…" not in plot.status.value


def test_a_change_from_code_still_redraws_at_once():
    gate = _Gate()
    plot = widgets.LivePlot(gate, {"n": widgets.int_slider("n", 1, 50, 1, 1)})
    plot.set(n=7)
    assert gate.drawn == [1, 7] and plot.redraws == 2 and not plot.busy


def test_a_failing_background_redraw_shows_one_line_not_a_traceback():
    def draw(fig, n):
        if n == 3:
            raise ZeroDivisionError("division by zero")
        _draw_line(fig, n)

    slider = widgets.int_slider("n", 1, 5, 1, 1)
    plot = widgets.LivePlot(draw, {"n": slider})
    slider.set_state({"value": 3})
    assert plot.wait_idle(10)
    assert "could not update: ZeroDivisionError" in plot.caption.value


def test_a_live_button_says_running_at_once_then_redraws_with_the_result():
    started, release = threading.Event(), threading.Event()

    def herd(plot):
        started.set()
        assert release.wait(10)
        return {"db_queries": 1}

    def draw(fig, n):
        _draw_line(fig, n)
        result = plot_ref[0].live_results.get("Run live") if plot_ref else None
        return "not run yet" if result is None else f"{result['db_queries']} query"

    plot_ref: list = []
    plot = widgets.LivePlot(draw, {"n": widgets.int_slider("n", 1, 5, 1, 1)}, live={"Run live": herd})
    plot_ref.append(plot)
    button = plot.live_buttons["Run live"]
    assert button.description == "Run live" and plot.last_result == "not run yet"
    button.click()
    # before the run has finished (it is held): the button and the status say so
    assert button.description == "running…" and button.disabled
    assert "running…" in plot.status.value and plot.busy
    assert started.wait(5)
    button.click()  # a second press while running does not start a second run
    release.set()
    assert plot.wait_idle(10)
    assert plot.live_results["Run live"] == {"db_queries": 1}
    assert plot.last_result == "1 query" and plot.redraws == 2
    assert button.description == "Run live" and not button.disabled and "running…" not in plot.status.value


def test_action_buttons_still_redraw_synchronously():
    calls = []
    plot = widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 5, 1, 1)},
                            buttons={"Step ▶": lambda p: calls.append(p)})
    plot._buttons[0].click()
    assert calls == [plot] and plot.redraws == 2


def test_an_unknown_control_is_one_clear_sentence():
    plot = widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 5, 1, 1)})
    with pytest.raises(LabError, match="No control named 'm'; this plot has n"):
        plot.set(m=2)


# --- names, widths and contrast ------------------------------------------------


def test_the_lock_button_is_as_wide_as_its_words():
    box = widgets.predict("Which is faster?", ["a", "b"])
    assert box.lock.description == "Lock in my prediction"
    assert box.lock.layout.width == "max-content"


def test_every_control_of_a_live_plot_has_a_name():
    plot = widgets.LivePlot(_draw_line, {"n": widgets.int_slider("n", 1, 5, 1, 1)},
                            buttons={"Reset": lambda p: None}, live={"Run live": lambda p: None})
    for control in [*plot.controls.values(), *plot._buttons, *plot.live_buttons.values(), plot.numbers_toggle]:
        assert control.description.strip()


def test_the_slider_naming_script_links_handles_to_their_labels():
    # the front-end half is checked by axe in tests/test_browser.py; here: it targets the right markup
    js = widgets._ACCESSIBILITY_JS
    assert ".noUi-handle" in js and "aria-labelledby" in js and "label.widget-label" in js


def test_series_colours_have_3_to_1_contrast_on_white_and_text_colours_4_5():
    assert all(charts.contrast_on_white(c) >= 3.0 for c in charts.COLORS)
    assert all(charts.contrast_on_white(c) >= 4.5 for c in charts.TEXT_COLORS)
    assert charts.contrast_on_white(charts.OKABE_ITO["yellow"]) < 3.0  # why the series use darker shades
    assert charts.contrast_on_white(charts.LIMIT_STYLE["color"]) >= 3.0


# --- frames kept and drawn ahead ------------------------------------------------


@pytest.fixture
def drawing_ahead():
    """Drawing ahead on, as in a kernel (a plain test process has it off)."""
    from labkit import ahead

    ahead.enable(True)
    yield ahead.worker()
    ahead.worker().wait_done(30)
    ahead.enable(None)


def _counting_plot(calls, **kw):
    def draw(fig, n):
        calls.append(n)
        fig.results = {"n": n}
        ax = fig.axes[0]
        ax.plot([0, 1], [0, n])
        charts.finish(ax, title=f"n is {n}", xlabel="x (s)", ylabel="y (ms)")
        return f"drew {n}"

    return widgets.LivePlot(draw, {"n": widgets.int_slider("n", 1, 10, 1, 5)}, **kw)


def test_without_a_kernel_nothing_is_drawn_ahead():
    calls = []
    plot = _counting_plot(calls)
    plot.set(n=6)
    plot.set(n=5)  # kept from the first draw: not drawn again
    assert calls == [5, 6] and plot.redraws == 3 and plot.last_result == "drew 5"


def test_each_step_either_way_is_drawn_ahead_and_a_key_press_only_shows_it(drawing_ahead):
    calls = []
    plot = _counting_plot(calls)
    assert drawing_ahead.wait_done(30)
    assert calls == [5, 6, 4]  # up first, then down
    plot.set(n=6)
    assert plot.axes[0].get_title() == "n is 6" and plot.last_result == "drew 6" and plot.results == {"n": 6}
    assert drawing_ahead.wait_done(30)
    assert calls[:3] == [5, 6, 4] and calls[3] == 7  # the way the learner is going, first
    plot.set(n=5)
    assert plot.results == {"n": 5} and calls.count(5) == 1


def test_a_move_down_draws_the_next_step_down_first(drawing_ahead):
    calls = []
    plot = _counting_plot(calls)
    assert drawing_ahead.wait_done(30)
    plot.set(n=4)
    assert drawing_ahead.wait_done(30)
    assert calls[3] == 3, calls


def test_a_button_forgets_the_kept_frames(drawing_ahead):
    calls, state = [], {"offset": 0}

    def draw(fig, n):
        calls.append(n)
        return f"{n + state['offset']}"

    plot = widgets.LivePlot(draw, {"n": widgets.int_slider("n", 1, 10, 1, 5)},
                            buttons={"add 100": lambda _p: state.update(offset=100)})
    assert drawing_ahead.wait_done(30) and plot.frames_kept == 3
    plot._buttons[0].click()
    assert plot.last_result == "105"
    plot.set(n=6)
    assert plot.last_result == "106"  # drawn again with the new state, not the kept "6"


def test_frames_are_kept_per_state(drawing_ahead):
    state = {"server": "up"}
    plot = widgets.LivePlot(lambda fig, n: f"{n} with the server {state['server']}",
                            {"n": widgets.int_slider("n", 1, 10, 1, 5)}, state=lambda: state["server"])
    assert drawing_ahead.wait_done(30)
    state["server"] = "down"
    plot.set(n=6)
    assert plot.last_result == "6 with the server down"


def test_a_draft_is_shown_until_the_run_that_completes_it_ends(drawing_ahead):
    from labkit import ahead

    calls, simulated = [], {"done": False}

    def draw(fig, n):
        calls.append(n)
        if not simulated["done"] and not ahead.rendering_ahead():
            ahead.draft()  # the foreground shows what is ready; drawn ahead, it waits for all
            return f"draft {n}"
        return f"complete {n}"

    plot = widgets.LivePlot(draw, {"n": widgets.int_slider("n", 1, 10, 1, 5)})
    assert plot.last_result == "draft 5" and drawing_ahead.wait_done(30)
    drawing_ahead._cell_started()  # hold drawing ahead while the learner moves
    try:
        plot.set(n=6)
        assert plot.last_result == "complete 6"  # drawn ahead, complete
        plot.set(n=5)
        assert plot.last_result == "draft 5" and calls.count(5) == 1  # the draft, shown again
        simulated["done"] = True
        plot.run_live("simulate", lambda _plot: None, forget=False)
        assert plot.wait_idle(30)
        assert plot.last_result == "complete 5" and calls.count(5) == 2  # the run ended: drawn complete
        plot.set(n=6)
        assert calls.count(6) == 1  # complete frames stay kept
        simulated["done"] = False
        plot.set(n=7)
        plot.set(n=6)
        assert calls.count(7) == 1 and plot.last_result == "complete 6"  # 7: a draft, kept while it simulates
        simulated["done"] = True
        plot.run_live("simulate", lambda _plot: None, forget=False)
        assert plot.wait_idle(30) and calls.count(7) == 2  # the run ended: 7 drawn complete at once...
        plot.set(n=7)
        assert plot.last_result == "complete 7" and calls.count(7) == 2  # ...so coming back costs nothing
    finally:
        drawing_ahead._cell_finished()


def test_a_note_about_the_move_is_made_as_the_frame_is_shown(drawing_ahead):
    plot = widgets.LivePlot(lambda fig, n, m: "same numbers", {
        "n": widgets.int_slider("n", 1, 10, 1, 5), "m": widgets.int_slider("m", 1, 10, 1, 5)},
        note=lambda before, now: "".join(f"{k} moved. " for k in now if now[k] != before[k]))
    assert plot.last_result == "same numbers"
    assert drawing_ahead.wait_done(30)
    plot.set(m=6)
    assert plot.last_result == "m moved. same numbers"
    plot.set(n=6)
    assert plot.last_result == "n moved. same numbers"


def test_nothing_is_drawn_ahead_while_a_cell_runs(drawing_ahead):
    drawing_ahead._cell_started()
    try:
        calls = []
        _counting_plot(calls)
        assert not drawing_ahead.wait_done(1.0) and calls == [5]
    finally:
        drawing_ahead._cell_finished()
    assert drawing_ahead.wait_done(30) and sorted(calls) == [4, 5, 6]


def test_a_host_can_turn_drawing_ahead_off(monkeypatch):
    from labkit import ahead

    monkeypatch.setenv("CACHE_LAB_AHEAD", "0")
    assert not ahead.enabled()


def test_the_next_steps_of_every_kind_of_control():
    import ipywidgets as W

    from labkit import ahead

    assert ahead.control_neighbours(widgets.int_slider("n", 1, 10, 1, 10)) == [9]
    assert ahead.control_neighbours(widgets.slider("x", 0.0, 1.0, 0.1, 0.3)) == [0.4, 0.2]
    up, down = ahead.control_neighbours(widgets.log_slider("ttl", 1, 1000, 10))
    assert up == pytest.approx(10 ** 1.05) and down == pytest.approx(10 ** 0.95)
    assert ahead.control_neighbours(widgets.choice("c", ["a", "b", "c"], "a")) == ["b"]
    pairs = W.SelectionSlider(options=[("1 min", 60), ("1 h", 3600), ("1 d", 86400)], value=3600)
    assert ahead.control_neighbours(pairs) == [86400, 60]
    assert ahead.control_neighbours(widgets.toggle("t", False)) == [True]


def test_the_steps_back_outlive_frames_further_away(drawing_ahead):
    calls = []
    plot = widgets.LivePlot(lambda fig, **v: calls.append(dict(v)) or "ok", {
        name: widgets.int_slider(name, 1, 10, 1, 5) for name in "abcdef"})
    assert drawing_ahead.wait_done(60) and len(calls) == 13  # the start and its 12 neighbours
    plot.set(a=6)
    # a=6 brings 11 new neighbours; room is for 14 frames, so 11 older ones must go...
    assert drawing_ahead.wait_done(60) and len(calls) == 24
    plot.set(a=5)
    assert len(calls) == 24  # ...and the step back was not one of them


def test_sliders_are_drawn_ahead_before_menus(drawing_ahead):
    calls = []
    widgets.LivePlot(lambda fig, mode, n: calls.append((mode, n)) or "ok", {
        "mode": widgets.choice("mode", ["a", "b"], "a"), "n": widgets.int_slider("n", 1, 10, 1, 5)})
    assert drawing_ahead.wait_done(30)
    assert calls == [("a", 5), ("a", 6), ("a", 4), ("b", 5)]
