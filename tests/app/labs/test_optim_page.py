"""The optimizer lab's pages and fragments: full page vs fragment, link state, presets, bad links and
forms (422 naming the field), stepping, provenance, the gradient check. Numbers are worked by hand."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.web.labs.optim.presets import PRESETS
from app.web.labs.optim.state import OptimState, from_link
from app.web.labs.optim.view import hp_fields

# A link as the app wrote it on 2026-11-22: the notes' five parameters, one Adam step in the notes' form,
# parameter w2 selected, and the ill-conditioned surface played to t = 40. It must keep opening with the
# same numbers: links made today still open later.
STORED_LINK = (
    "/optim?v=1&opt=adam,lr:0.01,beta1:0.9,beta2:0.995,eps:1e-07,eps_placement:inside,bias_correction:off,"
    "weight_decay:0&names=w1,w2,b0,b1,conv1&theta=5:0.5,0.3,0.2,-0.1,0.8&gmode=typed&g=1x5:0.02,0.01,0.01,-0.03,"
    "0.05&k=1&j=1&surface=ill_conditioned&start=-4.5,1.5&r1=sgd,lr:0.075&r2=momentum,lr:0.02,momentum:0.9,"
    "form:pytorch&r3=rmsprop,lr:0.05,alpha:0.99,eps:1e-08&r4=adam,lr:0.3,beta1:0.9,beta2:0.999,eps:1e-08,"
    "eps_placement:outside,bias_correction:on,weight_decay:0&N=150&speed=60&t=40"
)


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def step_row(html: str, array: str) -> list[str]:
    """The texts of one row of the selected step's table (a row per quantity)."""
    part = html[html.index('id="step-rows"'):]
    table = re.search(rf'<table class="heatmap steprow" data-arr="{array}"[^>]*>(.*?)</table>', part, re.S).group(1)
    return re.findall(r"<td[^>]*>([^<]*)</td>", table)


def form_for(state: OptimState, **overrides) -> dict:
    """The lab's form fields as the page posts them for ``state``."""
    data: dict = {"optimizer": state.opt.name, "gmode": state.gmode, "P": str(state.P), "T": str(state.steps),
                  "pname": list(state.names), "theta0": [repr(float(v)) for v in state.theta],
                  "k": str(state.k), "j": str(state.j), "gsurface": state.gsurface, "gsurface_prev": state.gsurface,
                  "surface": state.surface, "surface_prev": state.surface, "start_x": repr(state.start[0]),
                  "start_y": repr(state.start[1]), "N": str(state.path_steps), "speed": str(state.speed),
                  "runs": str(len(state.runs)), "t": str(state.t)}

    def hp(spec, prefix):
        for f in hp_fields(spec, prefix, "x"):
            if f["kind"] == "float":
                data[f["field"]] = repr(float(f["value"]))
            else:
                data[f["field"]] = next(c["value"] for c in f["choices"] if c["checked"])

    hp(state.opt, "hyperparams")
    for i, spec in enumerate(state.runs, 1):
        data[f"run{i}.optimizer"] = spec.name
        hp(spec, f"run{i}")
    if state.gmode == "typed":
        data["g"] = [repr(float(v)) for v in state.grads.ravel()]
    elif state.gmode in ("constant", "noisy"):
        data["gc"] = [repr(float(v)) for v in state.gconst]
        data["sigma"], data["seed"] = repr(state.sigma), str(state.seed)
    data.update(overrides)
    return data


HX = {"HX-Request": "true"}


def test_bare_optim_redirects_to_the_notes_example(client):
    r = client.get("/optim", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/optim?v=1&opt=adam,lr:0.01,beta1:0.9,beta2:0.995,eps:1e-07,")
    assert "names=w1,w2,b0,b1,conv1" in r.headers["location"]


def test_full_page_for_a_plain_request_fragment_for_htmx(client):
    full = client.get(STORED_LINK)
    assert full.status_code == 200
    assert full.text.lstrip().startswith("<!doctype html>")
    assert 'src="/static/js/labs/optim.js?v=' in full.text and "css/labs/optim.css" in full.text
    fragment = client.get(STORED_LINK, headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="lab"')


def test_the_stored_link_keeps_opening_with_the_same_numbers(client):
    html = client.get(STORED_LINK).text
    # the notes' form: m = 0.1·g, v = 0.005·g², no bias correction, ε inside the root
    assert step_row(html, "g") == ["0.02", "0.01", "0.01", "-0.03", "0.05"]
    assert step_row(html, "m") == ["0.002", "0.001", "0.001", "-0.003", "0.005"]
    assert step_row(html, "v") == ["2e-6", "5e-7", "5e-7", "4.5e-6", "1.25e-5"]
    assert step_row(html, "m_hat") == step_row(html, "m")
    # Δθ_w2 = −0.01·0.001/√(5e-7 + 1e-7) = −1e-5/7.74597e-4 = −0.0129099; w1: −0.01·0.002/√(2.1e-6) = −0.0138013
    assert step_row(html, "update") == ["-0.0138", "-0.01291", "-0.01291", "0.01399", "-0.01409"]
    assert step_row(html, "theta") == ["0.4862", "0.2871", "0.1871", "-0.08601", "0.7859"]
    # the notes print momentum_w2 = −0.004 and velocity_w2 = 0.000008: exactly those two cells are marked
    slips = re.findall(r'<td colspan="2" class="slip"[^>]*>(.*?)</td>', html, re.S)
    assert len(slips) == 2
    assert "-0.004" in slips[0] and "0.001" in slips[0] and "8e-6" in slips[1] and "5e-7" in slips[1]
    # side by side: PyTorch's first step moves each parameter by lr·g/(|g| + ε) ≈ 0.01; the difference shows
    assert "Δθ<sub>PyTorch</sub> − Δθ<sub>notes</sub>" in html
    # the surface part: four paths played to t = 40, the stream URL carries the same state
    assert 'data-t="40"' in html and 'data-n="150"' in html
    assert "/optim/stream?v=1&amp;opt=adam" in html
    assert from_link(STORED_LINK.split("?", 1)[1], Settings()).to_query() == STORED_LINK.split("?", 1)[1]


def test_every_preset_redirects_to_a_canonical_link_that_opens(client):
    for key in PRESETS:
        r = client.get(f"/optim/preset/{key}?seed=4", follow_redirects=False)
        assert r.status_code == 303, key
        page = client.get(r.headers["location"])
        assert page.status_code == 200, (key, page.text[:300])
        assert "katex-error" not in page.text
    seeded = client.get("/optim/preset/random?seed=4", follow_redirects=False).headers["location"]
    assert seeded == client.get("/optim/preset/random?seed=4", follow_redirects=False).headers["location"]
    assert seeded != client.get("/optim/preset/random?seed=5", follow_redirects=False).headers["location"]


def test_unknown_preset_and_bad_seed(client):
    r = client.get("/optim/preset/nope")
    assert r.status_code == 404 and "notes-001" in r.json()["detail"][0]["msg"]
    r = client.get("/optim/preset/random?seed=-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "seed"]


@pytest.mark.parametrize("query,field,words", [
    ("opt=adam,beta1:1.5", "hyperparams.beta1", "between 0 and 0.999999"),
    ("opt=adagrad", "opt", "unknown optimizer"),
    ("theta=5:0.5,0.3,0.2,-0.1", "theta", "shape 5 needs 5 values, the link has 4"),
    ("theta=4:0.5,0.3,0.2,-0.1", "theta", "4 values for 5 parameter names"),
    ("g=1x5:0.02,0.01,0.01,-0.03,abc", "g[4]", "not a number"),
    ("r2=momentum,form:nesterov", "run2.form", "pytorch, ema"),
    ("t=151", "t", "between 0 and 150"),
    ("surface=bowl", "surface", "ill_conditioned"),
])
def test_a_bad_link_names_its_field(client, query, field, words):
    key = query.split("=", 1)[0]
    link = re.sub(rf"([?&]){key}=[^&]*", lambda m: m.group(1) + query, STORED_LINK)
    r = client.get(link)
    assert r.status_code == 422, link
    assert "does not open" in r.text
    box = unescape(re.search(r'<p class="error-box">(.*?)</p>', r.text, re.S).group(1))
    assert f"<b>{field}</b>" in box and words in box, box
    assert "Open the default example" in r.text


def test_an_edit_recomputes_the_step_and_updates_the_link(client):
    state = PRESETS["notes-001-form"].make(0)
    # dw2 = −0.04 (what the notes' printed numbers need): m = 0.1·(−0.04) = −0.004, v = 0.005·0.0016 = 8e-6,
    # Δθ = −0.01·(−0.004)/√(8e-6 + 1e-7) = 4e-5/0.002846050 = 0.0140546
    data = form_for(state, g=["0.02", "-0.04", "0.01", "-0.03", "0.05"])
    r = client.post("/optim/results", data=data, headers=HX)
    assert r.status_code == 200
    assert step_row(r.text, "m")[1] == "-0.004"
    assert step_row(r.text, "v")[1] == "8e-6"
    assert step_row(r.text, "update")[1] == "0.01405"
    assert "g=1x5:0.02,-0.04,0.01,-0.03,0.05" in r.headers["HX-Replace-Url"]
    assert 'class="slip"' not in r.text  # the printed numbers now follow: nothing to mark
    assert '<div id="surface-message" hx-swap-oob="true"' in r.text  # a valid form clears the surface's message


def test_the_lab_opens_in_pytorchs_form_and_the_notes_form_is_one_preset_away(client):
    state = PRESETS["notes-001"].make(0)
    assert state.opt.hp["eps_placement"] == "outside" and state.opt.hp["bias_correction"] is True
    notes = PRESETS["notes-001-form"].make(0)
    assert notes.opt.hp["eps_placement"] == "inside" and notes.opt.hp["bias_correction"] is False
    html = client.get("/optim").text
    assert 'href="/optim/preset/notes-001-form"' in html
    assert 'value="outside" id="hp-eps_placement-outside" checked' in html
    assert 'value="on" id="hp-bias_correction-on" checked' in html


def test_bias_correction_on_changes_the_first_update(client):
    state = PRESETS["notes-001-form"].make(0)
    r = client.post("/optim/results", data=form_for(state, **{"hyperparams.bias_correction": "on"}), headers=HX)
    # t = 1: m̂ = m/(1 − 0.9) = g, v̂ = v/(1 − 0.995) = g²; Δθ_w2 = −0.01·0.01/√(1e-4 + 1e-7) = −0.0099950
    assert step_row(r.text, "m_hat")[1] == "0.01"
    assert step_row(r.text, "v_hat")[1] == "0.0001"
    assert step_row(r.text, "update")[1] == "-0.009995"
    assert "bias_correction:on" in r.headers["HX-Replace-Url"]


@pytest.mark.parametrize("field,value,words", [
    ("hyperparams.beta1", "1.5", "must be between 0 and 0.999999, got 1.5"),
    ("hyperparams.lr", "fast", "'fast' is not a number"),
    ("hyperparams.bias_correction", "maybe", "must be on or off"),
])
def test_a_bad_hyperparameter_answers_422_naming_it(client, field, value, words):
    r = client.post("/optim/results", data=form_for(PRESETS["notes-001"].make(0), **{field: value}), headers=HX)
    assert r.status_code == 422
    assert r.headers["HX-Reswap"] == "none"
    text = unescape(r.text)
    assert f"<b>{field}</b>: {words}" in text, text
    assert f'data-invalid=\'["{field}"]\'' in text


def test_every_bad_cell_is_named(client):
    data = form_for(PRESETS["notes-001"].make(0), g=["0.02", "x", "0.01", "", "0.05"])
    data["theta0"] = ["0.5", "0.3", "zero", "-0.1", "0.8"]
    r = client.post("/optim/results", data=data, headers=HX)
    assert r.status_code == 422
    text = unescape(r.text)
    for field in ("g[t=1, w2]", "g[t=1, b1]", "θ0[b0]"):
        assert f"<b>{field}</b>" in text, field


def test_a_bad_surface_setting_shows_by_the_surface_too(client):
    state = PRESETS["notes-001"].make(0)
    r = client.post("/optim/surface", data=form_for(state, **{"run1.lr": "-1"}), headers=HX)
    assert r.status_code == 422 and r.headers["HX-Reswap"] == "none"
    text = unescape(r.text)
    assert '<div id="form-message" hx-swap-oob="true"' in text
    assert '<div id="surface-message" hx-swap-oob="true"' in text
    assert text.count("<b>run1.lr</b>: must be between 0 and 10, got -1") == 2


def test_the_surface_fragment_follows_its_controls(client):
    state = PRESETS["notes-001"].make(0)
    r = client.post("/optim/surface", data=form_for(state, surface="rosenbrock", runs="2"), headers=HX)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="surfaces"')
    url = r.headers["HX-Replace-Url"]
    assert "surface=rosenbrock" in url and "start=-1.2,1" in url  # a new surface starts at its own start
    assert "r2=momentum" in url and "r3=" not in url
    assert '<div id="form-message" hx-swap-oob="true"' in r.text
    r = client.post("/optim/surface", data=form_for(state, reset="1", t="80"), headers=HX)
    assert "t=0" in r.headers["HX-Replace-Url"] and 'data-t="0"' in r.text


def test_switching_gradient_modes_carries_the_numbers(client):
    state = PRESETS["notes-001"].make(0)
    r = client.post("/optim/lab", data=form_for(state, gmode="constant", T="3"), headers=HX)
    assert r.status_code == 200
    url = r.headers["HX-Replace-Url"]
    assert "gmode=constant" in url and "gc=5:0.02,0.01,0.01,-0.03,0.05" in url and "T=3" in url
    # three equal gradients in the notes' form: m_3 = (0.001 + 0.0009 + 0.00081) for w2 = 0.00271
    r = client.post("/optim/step", data=form_for(from_link(url.split("?", 1)[1], Settings()), k_to="3"), headers=HX)
    assert step_row(r.text, "m")[1] == "0.00271"
    r = client.post("/optim/lab", data=form_for(state, gmode="surface", gsurface="rosenbrock"), headers=HX)
    url = r.headers["HX-Replace-Url"]
    assert "names=x,y" in url and "theta=2:-1.2,1" in url and "gsurf=rosenbrock" in url
    # g_1 = ∇f(−1.2, 1) = (−215.6, −88)
    assert step_row(r.text, "g") == ["-215.6", "-88"]


def test_stepping_wraps_around(client):
    state = PRESETS["notes-001-steps"].make(0)  # ten steps, k = 1
    r = client.post("/optim/step", data=form_for(state, k_delta="-1"), headers=HX)
    assert "k=10" in r.headers["HX-Replace-Url"] and "Step t = 10" in r.text
    r = client.post("/optim/step", data=form_for(state, k_to="4"), headers=HX)
    assert "k=4" in r.headers["HX-Replace-Url"]
    r = client.post("/optim/step", data=form_for(state, k_to="11"), headers=HX)
    assert r.status_code == 422 and "k_to" in r.text


def test_provenance_of_step_table_cells(client):
    state = PRESETS["notes-001-steps"].make(0)
    post = lambda array, index: client.post("/optim/provenance", data={**form_for(state), "array": array,  # noqa: E731
                                                                        "index": index}, headers=HX)
    # m of w2 (parameter 1) at t = 3 (column 2): m_2 and g_3
    assert post("m", "1,2").json()["cells"] == {"m": ["1,1"], "g": ["1,2"]}
    # θ_1 comes from the starting vector and the update
    assert post("theta", "4,0").json()["cells"] == {"theta0": ["0,4"], "update": ["4,0"]}
    assert post("update", "0,5").json()["cells"] == {"m_hat": ["0,5"], "effective_step": ["0,5"]}
    typed = PRESETS["notes-001"].make(0)
    r = client.post("/optim/provenance", data={**form_for(typed), "array": "g", "index": "2,0"}, headers=HX)
    assert r.json()["cells"] == {"g_in": ["0,2"]}
    assert post("s", "0,0").status_code == 422  # adam has no s
    assert post("m", "9,0").status_code == 422


def test_gradient_checks(client):
    state = PRESETS["surface-rosenbrock"].make(0)
    r = client.post("/optim/gradcheck", data={**form_for(state, t="50"), "which": "surface"}, headers=HX)
    assert r.status_code == 200 and "badge--ok" in r.text and 'hx-trigger="recheck"' in r.text
    assert "paths up to t = 50" in r.text
    r = client.post("/optim/gradcheck", data={**form_for(state), "which": "table"}, headers=HX)
    assert r.status_code == 204  # typed gradients: no function to check
    r = client.post("/optim/lab", data=form_for(state, gmode="surface", gsurface="beale", T="4"), headers=HX)
    surface_state = from_link(r.headers["HX-Replace-Url"].split("?", 1)[1], Settings())
    r = client.post("/optim/gradcheck", data={**form_for(surface_state), "which": "table"}, headers=HX)
    assert "badge--ok" in r.text and "at 4 points where the steps took their gradients" in r.text


def test_the_link_route_gives_the_canonical_link(client):
    state = PRESETS["notes-001"].make(0)
    r = client.post("/optim/link", data=form_for(state, t="37"), headers=HX)
    assert r.status_code == 200 and r.json()["url"].endswith("&t=37")
    r = client.post("/optim/link", data=form_for(state, t="x"), headers=HX)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "t"]


def test_conventions_are_compared_for_adam_and_momentum(client):
    html = client.get("/optim/preset/notes-001-steps", follow_redirects=True).text
    assert "ε outside · bias correction on (PyTorch)" in html and "ε inside · bias correction off (the notes)" in html
    # ten steps: the first-steps chart is drawn (a plot of |Δθ| against t = 1 … 10)
    assert '"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]' in unescape(html) and '"rangemode": "tozero"' in unescape(html)
    html = client.get("/optim/preset/momentum-noisy", follow_redirects=True).text
    assert "v ← μv + (1−μ)g (the notes)" in html and "Δθ<sub>PyTorch</sub>" not in html


def test_an_overflowing_run_shows_inf_or_nan_and_says_why(client):
    state = PRESETS["notes-001"].make(0)
    data = form_for(state, optimizer="sgd", gmode="surface", gsurface="rosenbrock", T="12", k="12", j="0")
    data = {k: v for k, v in data.items() if not k.startswith("hyperparams.")} | {"hyperparams.lr": "0.01"}
    r = client.post("/optim/lab", data=data, headers=HX)
    assert r.status_code == 200
    # SGD with lr 0.01 from (−1.2, 1) on Rosenbrock: the loss overflows at update 6 (engine.optim.trajectory
    # stops there), θ itself two updates later; the table keeps going and shows what the arithmetic gives
    assert "From step 8 on, θ is no longer a finite number" in r.text
    assert step_row(r.text, "theta") == ["nan", "nan"]


@pytest.mark.parametrize("gmode", ["typed", "constant", "noisy", "surface"])
def test_the_inputs_tables_columns_stand_under_one_another(client, gmode):
    """Every row of the inputs' tables (names, θ0, the gradients) has one header cell before its parameters' cells,
    so a parameter's name, start and gradients are one column: the gradients' t = 1 … headers pushed g's columns
    one to the right of the names and θ0 above them."""
    state = PRESETS["notes-001"].make(0)
    extra = {"gsurface": "rosenbrock"} if gmode == "surface" else {}
    r = client.post("/optim/lab", data=form_for(state, gmode=gmode, T="3", **extra), headers=HX)
    assert r.status_code == 200
    inputs = r.text[r.text.index('id="inputs"'):r.text.index("</section>", r.text.index('id="inputs"'))]
    P = 2 if gmode == "surface" else 5
    rows = re.findall(r"<tr>(.*?)</tr>", inputs, re.S)
    assert len(rows) >= {"typed": 6, "constant": 3, "noisy": 3, "surface": 2}[gmode]
    for row in rows:
        cells = re.findall(r"<(th|td)\b", row)
        assert cells == ["th"] + ["td" if "<td" in row else "th"] * P, row
    headers = [unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r'<th scope="row">(.*?)</th>', inputs)]
    starts = ["θ0"] if gmode == "surface" else ["name", "θ0"]
    assert headers == starts + {"typed": ["t=1", "t=2", "t=3"], "constant": ["g"], "noisy": ["ḡ"], "surface": []}[gmode]
