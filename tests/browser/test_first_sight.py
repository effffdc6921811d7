"""What a visitor meets in the first minute, in real Chromium on a 390×844 phone (touch) and at 1400×1000:
no page wider than the screen, no console error while typing or stepping fast, train then draw gives the
trained network's answer, /optim opens in PyTorch's Adam, a slipped example shows its slip on the page, and
every heatmap table has an accessible name."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from app.web.kit import errata
from app.web.labs.conv.presets import PRESETS as CONV
from app.web.labs.conv.state import TABS as CONV_TABS
from app.web.labs.network.presets import PRESETS as NETWORK
from app.web.labs.norm.presets import PRESETS as NORM
from app.web.labs.norm.state import TABS as NORM_TABS
from app.web.labs.optim.presets import PRESETS as OPTIM
from app.web.labs.pool.presets import PRESETS as POOL
from app.web.labs.softmax.presets import PRESETS as SOFTMAX

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1400, "height": 1000}}
SIZES = {"390x844": PHONE, "1400x1000": DESKTOP}
PRESETS = {"conv": CONV, "pool": POOL, "norm": NORM, "softmax": SOFTMAX, "optim": OPTIM, "network": NETWORK}


@pytest.fixture(params=list(SIZES))
def sized(request, browser):
    context = browser.new_context(**SIZES[request.param])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.errors = errors
    yield page
    context.close()


def opened(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


# Watches the page from its first paint: the first moment it is wider than the screen is kept with what makes it
# so — the deepest element whose removal brings the width back (text overflowing its box has no element of its own:
# a badge's long unbreakable word was the /network transient, seen only when a loaded machine's gradient check was
# over its budget and said so naming Settings.network_gradcheck_cpu_seconds).
WATCH_WIDTH = """(() => {
    const cw = () => document.documentElement.clientWidth;
    const sw = () => document.scrollingElement.scrollWidth;
    function culprit() {
        const base = sw(), out = [];
        let scope = document.body;
        for (let depth = 0; depth < 60 && scope; depth++) {
            let found = null;
            for (const el of scope.children) {
                const was = el.style.getPropertyValue('display'), prio = el.style.getPropertyPriority('display');
                el.style.setProperty('display', 'none', 'important');
                const w = sw();
                el.style.setProperty('display', was, prio);
                if (w < base) { found = el; break; }
            }
            if (!found) break;
            out.push(found.tagName.toLowerCase() + (found.id ? '#' + found.id : '') +
                     (found.classList.length ? '.' + [...found.classList].join('.') : ''));
            scope = found;
        }
        const text = scope && scope !== document.body ? scope.textContent.trim().slice(0, 80) : '';
        return `${base} px of ${cw()}: ${out.slice(-4).join(' > ')} "${text}"`;
    }
    // a results card far off screen is not laid out (content-visibility: auto, cards.css) and contains its paint, so
    // what is too wide in it would be cut off at its edge, never seen here: every card is laid out, as it was before
    const whole = new CSSStyleSheet();
    whole.replaceSync('.lab__results > .card { content-visibility: visible !important; }');
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, whole];
    window.__tooWide = null;
    // from the first paint: before it there is no body, or the render-blocking stylesheets are still on their way
    // (a layout forced then is one nobody sees: the unstyled hero on a loaded machine was 392 px of 390)
    const painted = () => performance.getEntriesByType('paint').length > 0;
    const look = () => {
        if (!document.body || !document.scrollingElement || !painted()) return;
        if (!window.__tooWide && sw() > cw()) window.__tooWide = culprit();
    };
    setInterval(look, 40);
    document.addEventListener('htmx:afterSettle', look);
})();"""


def too_wide(page) -> str | None:
    """What made the page wider than the screen at any moment since it opened (None: nothing)."""
    return page.evaluate("() => window.__tooWide || (document.scrollingElement.scrollWidth > "
                         "document.documentElement.clientWidth ? `scrollWidth ${document.scrollingElement.scrollWidth}`"
                         " : null)")


def visited(page, url: str) -> None:
    """Opens url and waits for the lab itself: a link whose replay is still running answers a progress page that
    reloads itself (the resnet preset on a fresh server), and a cancelled navigation is asked again."""
    for attempt in range(3):
        try:
            page.goto(url)
            break
        except PlaywrightError as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == 2:
                raise
    deadline = time.monotonic() + 120
    while True:
        try:
            if page.evaluate("() => document.readyState === 'complete' && !/^(Computing|The server is busy)/"
                             ".test(document.title)"):
                break
        except PlaywrightError:  # the progress page reloading itself
            pass
        assert time.monotonic() < deadline, f"{url[:60]} did not open in 120 s"
        page.wait_for_timeout(250)
    quiet(page)


# Nothing on its way and nothing left to draw: no htmx request in flight or swap settling, and every figure in view
# of the reader (not in a closed fold) drawn by Plotly. Cheaper than "networkidle" (which waits 500 ms of silence
# after the last request, twice per page here) and closer to what the width watcher needs: the page as drawn.
QUIET = """() => document.readyState === 'complete'
    && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')
    && [...document.querySelectorAll('[data-figure]')].every(
        f => f.closest('details:not([open])') || f.classList.contains('js-plotly-plot'))"""


def quiet(page) -> None:
    try:
        page.wait_for_function(QUIET, timeout=10_000)
    except PlaywrightError:  # a busy machine: the watcher has been looking all along
        pass


def settled(page) -> None:
    """Waits for the gradient check's answer (a page without one, or one still checking after 15 s, goes on)."""
    try:
        page.wait_for_function("""() => ![...document.querySelectorAll('.gradcheck')].some(
            g => /checking/i.test(g.textContent) && !/no gradient check/i.test(g.textContent))""", timeout=15_000)
    except PlaywrightError:  # a slow check is not what this test is about
        pass


def stepped(page) -> None:
    """Steps the first stepper on the page once (a window, a stage, an operation) and waits for its answer."""
    button = page.locator('[data-step="next"]:not([disabled])')
    if button.count():
        button.first.scroll_into_view_if_needed()
        button.first.click()  # htmx marks its request at once (a click trigger sends in the handler)
        quiet(page)


# At 1400×1000 a lab's presets of one shape are laid out alike: the wide screen walks one preset of each shape (and
# every page that is not a preset); the phone, where nearly anything can push a page wider, walks every preset.
WIDE_SCREEN_PRESETS = {"conv": ("edge", "mnist", "cifar"), "pool": ("notes-4x4", "mnist", "cifar"),
                       "norm": ("two-sample", "images"), "softmax": ("notes", "big"),
                       "optim": ("notes-001", "notes-001-steps", "surface-rosenbrock"), "network": tuple(NETWORK)}


def pages(base: str, every: bool) -> list[str]:
    """The home page, the errata, the bugs, the sample deck, the conv and norm tabs and the presets (their links at
    seed 0): every preset of every lab, or (``every=False``) those of WIDE_SCREEN_PRESETS."""
    urls = ["/", "/errata", "/bugs", "/deck"]
    for lab, presets in PRESETS.items():
        for key in presets if every else WIDE_SCREEN_PRESETS[lab]:
            urls.append(httpx.get(f"{base}/{lab}/preset/{key}", follow_redirects=False).headers["location"])
    urls += [f"/conv/preset/edge?tab={tab}" for tab in CONV_TABS]
    urls += [f"/norm/preset/two-sample?tab={tab}" for tab in NORM_TABS]
    return urls


def test_every_wide_screen_preset_is_a_preset():
    for lab, keys in WIDE_SCREEN_PRESETS.items():
        assert set(keys) <= set(PRESETS[lab]), (lab, set(keys) - set(PRESETS[lab]))


def test_no_page_is_wider_than_the_screen(sized, live_server):
    """Every page, at three moments: loaded, its gradient check answered, one step taken — and any moment between
    (the watcher runs from the first paint)."""
    sized.context.add_init_script(WATCH_WIDTH)
    wide = []
    for url in pages(live_server, every=sized.viewport_size["width"] <= 500):
        visited(sized, live_server + url)
        settled(sized)
        stepped(sized)
        what = too_wide(sized)
        if what:
            wide.append(f"{url[:60]}: {what}")
    assert not wide, "\n".join(wide)
    # a link whose replay is still running answers its progress page with 503 (and Retry-After) by design
    errors = [e for e in sized.errors if "status of 503" not in e]
    assert not errors, errors


def test_a_badge_naming_a_setting_wraps_on_a_phone(sized, live_server):
    """The /network transient: a gradient check over its budget says so naming Settings.<field> — one long word."""
    if sized.viewport_size["width"] > 500:
        pytest.skip("a phone's width")
    opened(sized, live_server + "/network")
    settled(sized)
    sized.evaluate("""() => { const b = document.querySelector('#gradcheck .badge');
        b.className = 'badge badge--pending';
        b.textContent = "No gradient check: checking this network's gradients on 32 examples would take about 0.7 "
            + 'CPU-s; one request may take 0.4 (Settings.network_gradcheck_cpu_seconds): check a smaller batch'; }""")
    width = sized.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390, width


def test_every_heatmap_table_has_an_accessible_name(sized, live_server):
    for url in ("/conv", "/pool", "/norm", "/softmax", "/optim", "/network", "/conv/preset/edge?tab=backward",
                "/norm/preset/two-sample?tab=ln"):
        sized.goto(live_server + url)  # the tables are the server's: the loaded page has them all
        nameless = sized.evaluate("""() => [...document.querySelectorAll('table')].filter(t => {
            if (t.getAttribute('aria-hidden') === 'true' || t.getAttribute('role') === 'presentation') return false;
            const cap = t.querySelector(':scope > caption');
            const named = t.getAttribute('aria-label') || t.getAttribute('aria-labelledby');
            return !((cap && cap.textContent.trim()) || named);
        }).map(t => `${t.className} ${t.dataset.arr || ''}`)""")
        assert not nameless, f"{url}: tables without a name: {nameless}"


def type_fast(page, selector: str, text: str) -> None:
    page.locator(selector).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text, delay=8)  # faster than the server answers: requests are cancelled by newer ones


def test_no_console_error_while_typing_and_stepping_fast(sized, live_server):
    opened(sized, live_server + "/optim")
    type_fast(sized, "#g-0-1", "0.0412345")
    sized.wait_for_function("() => location.search.includes('0.0412345')")
    opened(sized, live_server + "/conv")
    type_fast(sized, "table.editable input.cell", "1234567")
    sized.wait_for_function("() => location.search.includes('1234567')")
    sized.locator("h1").click()
    # the keys drive the stepper in view (static/js/steps.js)
    sized.evaluate("() => document.querySelector('#window').scrollIntoView({block: 'center'})")
    for _ in range(8):
        sized.keyboard.press("ArrowRight")  # the sliding window, as fast as the keys come
    opened(sized, live_server + "/network")
    sized.locator("h1").click()
    sized.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")
    for _ in range(10):
        sized.keyboard.press("ArrowRight")
    sized.wait_for_timeout(1500)
    sized.wait_for_load_state("networkidle")
    assert not sized.errors, sized.errors


def test_the_first_step_does_not_wrap_to_the_last(sized, live_server):
    opened(sized, live_server + "/network")
    assert sized.locator('#results [data-step="prev"]').is_disabled()
    sized.locator("h1").click()
    # the keys drive the stepper in view (static/js/steps.js)
    sized.evaluate("() => document.querySelector('.net-timeline').scrollIntoView({block: 'center'})")
    sized.keyboard.press("ArrowLeft")
    sized.wait_for_timeout(400)
    assert sized.get_attribute("#net-step", "data-op-index") == "0"


def draw_a_one(page) -> None:
    def centre(i: int):
        box = page.locator(f'[data-pad-cell="{i}"]').bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.locator("[data-pad]").scroll_into_view_if_needed()
    x, y = centre(1 * 8 + 4)
    page.mouse.move(x, y)
    page.mouse.down()
    for row in range(2, 7):
        page.mouse.move(*centre(row * 8 + 4), steps=3)
    page.mouse.up()


def test_train_then_draw_gives_the_trained_prediction(sized, live_server):
    opened(sized, live_server + "/network/preset/lenet")
    first_screen = sized.evaluate("""() => ['#net-train', '[data-pad]', '.net-builder'].map(
        s => document.querySelector(s).getBoundingClientRect().top)""")
    if sized.viewport_size["width"] >= 1200:  # side by side, on the first screen
        assert max(first_screen) < sized.viewport_size["height"], first_screen
    sized.select_option("[data-train-speed]", "0")
    sized.click('[data-train-action="start"]')
    sized.wait_for_selector('[data-train][data-done="finished"]', timeout=120_000)
    assert sized.input_value("[data-pad-trained]") == "600"
    draw_a_one(sized)
    sized.wait_for_selector('#net-predict [data-weights="latest"]')
    said = sized.inner_text("#net-predict p")
    assert "training step 600 (the latest trained)" in said, said
    assert sized.get_attribute("#net-predict [data-predicted]", "data-predicted") == "1", said
    sized.click("#pad-at-step")
    sized.fill("#pad-step", "0")
    sized.press("#pad-step", "Enter")
    sized.wait_for_selector('#net-predict [data-weights="step"][data-t="0"]')
    assert not sized.errors, sized.errors


def test_optim_opens_in_pytorchs_adam_and_the_notes_form_is_one_click_away(sized, live_server):
    opened(sized, live_server + "/optim")
    assert sized.is_checked("#hp-bias_correction-on") and sized.is_checked("#hp-eps_placement-outside")
    sized.get_by_role("button", name="the notes'").click()
    sized.wait_for_function("() => document.querySelector('#hp-bias_correction-off')?.checked")
    assert sized.is_checked("#hp-eps_placement-inside")
    sized.wait_for_function("() => location.search.includes('eps_placement:inside,bias_correction:off')")
    assert not sized.errors, sized.errors


@pytest.mark.parametrize("slip", [s for s in errata.SLIPS if s.kind == "slip"], ids=lambda s: s.key)
def test_a_slipped_example_shows_its_slip_on_the_page(sized, live_server, slip):
    sized.goto(live_server + errata.link(slip))  # the slip is the server's text: the loaded page has it
    item = sized.locator(f"#slip-{slip.key}")
    assert item.is_visible(), slip.key  # on the page, not in a tooltip
    assert errata.right_value(slip.key) in item.inner_text()


def test_a_refused_pad_step_is_said_under_its_box_and_the_prediction_dims(sized, live_server):
    """The pad's "after N steps" lies on the first screen, far from the message at the top of the results: its line
    is written under the box, in sight, the typed value stays, the prediction it would redraw dims; a valid N clears
    them all (the answer empties the message out of band)."""
    opened(sized, live_server + "/network/preset/lenet")
    draw_a_one(sized)
    sized.wait_for_selector("#net-predict [data-predicted]")
    sized.click("#pad-at-step")
    sized.fill("#pad-step", "-1")
    sized.press("#pad-step", "Enter")
    note = sized.locator(".net-pad-weights .field-error")
    note.wait_for()
    assert "pad_step" in note.inner_text() and "got -1" in note.inner_text()
    box = note.bounding_box()
    assert box["y"] + box["height"] <= sized.viewport_size["height"] and box["y"] >= 0, box  # in sight as typed
    assert sized.input_value("#pad-step") == "-1"
    assert "stale" in sized.get_attribute("#net-predict", "class")
    sized.fill("#pad-step", "2")
    sized.press("#pad-step", "Enter")
    sized.wait_for_selector('#net-predict [data-weights="step"][data-t="2"]')
    assert sized.locator(".field-error").count() == 0
    assert sized.locator("#form-message").is_hidden()
    assert "stale" not in sized.get_attribute("#net-predict", "class")
    unexpected = [e for e in sized.errors if "422" not in e]  # the -1, refused on purpose
    assert not unexpected, unexpected
