"""Every limit and knob of the web app, in one frozen record.

Routes read it through the :func:`get_settings` dependency, so a test can swap in other
limits with ``app.dependency_overrides[get_settings] = lambda: Settings(max_batch=2)``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

# Spot the bug's links carry the planted bug sealed with this secret (app/web/kit/bugs.py). Set
# BACKPROP_LENS_BUG_SECRET so the links survive a restart and agree between workers; without it each process
# draws its own, and a bug link opens only in the process that made it.
PROCESS_BUG_SECRET = os.environ.get("BACKPROP_LENS_BUG_SECRET") or secrets.token_hex(32)


@dataclass(frozen=True)
class Settings:
    # --- sizes of arrays the API and the pages accept (checked, never clamped) ---
    max_elements: int = 4096  # numbers in any one array
    max_batch: int = 4  # N of an image batch (N, C, H, W), of (N, D) features, of logits/labels
    max_channels: int = 4  # C of (N, C, H, W)
    max_spatial: int = 16  # H and W of (N, C, H, W)
    max_filters: int = 4  # F of conv weights (F, C, KH, KW)
    max_kernel: int = 5  # KH and KW of conv weights
    max_features: int = 1024  # D of (N, D) and M of dense weights (D, M): 4·16·16 flattened
    max_classes: int = 32  # K of logits (N, K)
    # --- sizes the JSON API accepts instead (POST /api/v1/ops/{op} and the optimizers' arrays): course-sized, so
    # cs231n's assignment checks run through it — batch norm on 200×500, dropout on 500×500 with its mask, a
    # 2×3×32×32 conv with ten 3×3 filters, an affine layer on CIFAR's 3·32·32 features; each request is bounded in
    # time by the work limiter (app/work.py). The pages keep the sizes above. ---
    api_max_elements: int = 262_144  # numbers in any one array: 500×500 = 250,000
    api_max_batch: int = 500  # N (and the rows of (N, D))
    api_max_channels: int = 64  # C of (N, C, H, W)
    api_max_spatial: int = 64  # H and W
    api_max_filters: int = 64  # F of conv weights
    api_max_kernel: int = 11  # KH and KW
    api_max_features: int = 4096  # D of (N, D) and of dense weights: 3·32·32 = 3072
    api_max_classes: int = 1000  # K of logits
    api_max_answer_numbers: int = 2_000_000  # numbers in one op's answer (every named array, x_col included): writing
    # them is most of a large request's cost (~0.25 µs a number); cs231n's largest checks answer ~1.5 million
    # --- optimizers ---
    max_optimizer_steps: int = 500  # gradients sent, one per step
    max_optimizer_params: int = 8  # named parameter arrays
    max_optimizer_values: int = 50_000  # steps × parameter numbers: bounds the response size
    # --- the labs' pages: what a link or a lab's form may hold (checked, never clamped; each form shows the
    # bounds as its inputs' max=, read from here through the template context's ``limits``) ---
    max_seed: int = 2**31 - 1  # seeds of presets, random douts, batches and masks
    max_window_step: int = 10**6  # a sliding window's position (conv, pool), and how far one request moves it
    conv_max_stride: int = 3
    conv_max_pad: int = 3
    conv_max_spatial: int = 32  # H and W of the conv lab's x (CIFAR's 32×32, MNIST's 28×28), within max_elements
    pool_max_spatial: int = 32  # H and W of the pooling lab's x, within max_elements
    plane_image_cells: int = 256  # a conv or pool plane of more cells than this (above 16×16) is drawn as an image
    # with a selected-cell inspector (templates/kit/plane.html), not as one input (or table cell) per cell
    pool_max_size: int = 4  # window side k
    pool_max_stride: int = 4  # below the size, windows overlap
    norm_max_features: int = 8  # D of (N, D): the columns a projector still shows
    norm_max_side: int = 5  # H and W of (N, C, H, W)
    norm_max_index: int = 64  # c and sample as a link gives them, before they are checked against x's shape
    norm_max_batches: int = 200  # batches of the running-statistics sequence
    norm_max_draws: int = 1000  # dropout masks averaged for the expectation
    norm_max_moment: float = 1e6  # |true mean| and true variance of the random batches
    softmax_max_rows: int = 4  # N of the logits (within max_batch)
    softmax_max_classes: int = 10  # K of the logits (within max_classes)
    softmax_max_logit: float = 1e6  # |logit|: logits / T must stay finite for every T the page allows
    optim_max_params: int = 8  # parameters in the step table
    optim_max_steps: int = 20  # steps T in the step table
    optim_max_k_delta: int = 1000  # how far one request moves the step table's selected step
    optim_max_sigma: float = 100.0  # σ of noisy gradients
    optim_max_runs: int = 4  # optimizers on one surface
    optim_max_path: int = 1000  # updates a surface path may be played to
    optim_min_speed: int = 5  # steps per second the surface stream delivers
    optim_max_speed: int = 1000
    optim_max_start: float = 10.0  # |x|, |y| of a surface path's start; the surfaces are plotted within ±5
    network_max_step: int = 3000  # training steps a link may replay, and the longest run the page streams
    network_max_speed: int = 100_000  # steps per second the training stream may be asked for (0: as fast as it can)
    network_max_batch: int = 64  # digits per training step
    network_max_step_numbers: int = 400_000  # numbers one traced step of the digits holds (every layer's output for
    # each example, batch × per example): the page traces and draws it, ~0.25 CPU-s here; 24 layers at batch 64: 754,304
    network_max_examples: int = 4  # examples of typed data (each drawn as editable grids)
    network_max_typed_channels: int = 4  # C of typed (N, C, H, W) examples
    network_max_typed_side: int = 28  # H and W of typed (N, C, H, W) examples: an MNIST digit (planes above
    # plane_image_cells are editable images; a replay past the per-request CPU budget answers its progress)
    network_max_typed_features: int = 64  # D of typed (N, D) examples
    network_max_typed_init: int = 256  # typed initial parameters: for models of at most this many learnable numbers
    network_max_params: int = 20_000  # learnable numbers in a model the page trains
    network_max_activation: int = 16_384  # numbers one layer outputs for one example
    network_max_layers: int = 24  # layers in one list of the builder
    network_max_input_side: int = 64  # each size of the model's input shape, as the builder's form gives it
    export_max_script_values: int = 500_000  # numbers a network export script may write out (weights, batch, masks)
    trace_max_numbers: int = 3_000_000  # numbers in the answer of POST /api/v1/networks/trace
    network_gradcheck_cpu_seconds: float = 0.4  # the network lab's gradient check is refused when one timed loss
    # evaluation says it would take longer (a 24-layer network at batch 64 would take ~18 s)
    # --- HTTP ---
    max_body_bytes: int = 8 * 1024 * 1024  # request bodies above this answer 413 (cs231n's dropout check: 500×500
    # numbers at 17 digits and its mask, ~5.7 MB of JSON)
    gzip_minimum_size: int = 500  # bytes; smaller responses go out uncompressed
    gzip_level: int = 6  # 9 costs ~3x the CPU on plotly.js for 1% smaller output
    gzip_large_bytes: int = 64 * 1024  # answers this large or larger are gzipped at gzip_large_level instead
    gzip_large_level: int = 2  # (app/compression.py, zlib-ng): the API's largest answers, 7-13 MB of JSON, cost
    # 0.7-0.8 CPU-s to gzip at CPython zlib's level 6 (over the 0.5 CPU-s a request may cost), ~0.15 at its level 1 and
    # less at zlib-ng's level 2, for fewer bytes than zlib's level 1; an edit's largest fragments, sent while the user
    # waits: pool CIFAR's 182 KiB in 1.1 ms (zlib's level 1: 1.7, its level 6: 3.9), a network step's 210 KiB in ~1
    static_max_age: int = 31_536_000  # one year, for versioned (?v=) and vendored static files
    max_form_fields: int = 8 * 4096 + 1024  # fields of a posted lab form: one per cell of its arrays, and settings
    max_url_bytes: int = 32 * 1024  # path + query string; longer answers 414 (a lab's longest link is ~14 KB)
    # --- bounded work: replays, traces and large edits run under one limiter (app/work.py) ---
    work_threads: int = 2  # heavy jobs computing at once (one per core)
    render_threads: int = 2  # page and fragment renders at once (the rest wait their turn, unrefused)
    work_queue: int = 16  # heavy jobs waiting; one more answers 503 with Retry-After
    retry_after_seconds: int = 1  # what a 503 asks the client to wait
    max_request_cpu_seconds: float = 0.3  # a replay computes this long per request, then answers its progress
    routed_per_loop_turn: int = 4  # requests let into the router per turn of the event loop (app/turnstile.py): a
    # burst of 300 new links ran ~1 ms each of routing in one turn, and /healthz waited 228-317 ms (0: no turnstile)
    stream_yield_seconds: float = 0.25  # a stream's next chunk waits this long at most while pages wait for a render
    # thread (app/work.py): in a burst of new links, pages go before the frames of training animations
    gil_switch_interval_ms: float = 0.5  # how long a thread may hold the interpreter lock while another waits
    # (sys.setswitchinterval; Python's default 5 ms): the event loop waits for it after every socket read while
    # render threads run. A 10 ms sleep's overshoot beside two busy threads: p50 9, p95 29 ms at 5; 4 and 9-11 at 0.5
    stream_max_events: int = 400  # events a second all training streams together send at most: with many streams
    # each event carries more steps (app/web/labs/network/run.frame_seconds), so the event loop stays free for the rest
    # --- pages as cacheable documents (app/web/kit/cache.py) ---
    page_cache_entries: int = 512  # rendered pages and fragments kept, by canonical link
    page_cache_bytes: int = 64 * 1024 * 1024  # ... and their bytes (plain + gzipped), whichever bound comes first
    page_shared_max_age: int = 3600  # seconds a shared cache (nginx, a CDN) may serve a lab page unrevalidated
    # --- spot the bug ---
    bug_secret: str = field(default=PROCESS_BUG_SECRET, repr=False)  # seals which bug a link plants (see above)
    quiz_max_cells: int = 24  # cells one quiz link may hide (app/web/kit/quiz.py)
    # --- embedding: who may frame a lab page opened with embed=1 (its CSP frame-ancestors; app.security.embed_csp).
    # '*' is any origin; else origins separated by spaces ("https://course.example.edu https://lms.example.org").
    # Every other page refuses to be framed (frame-ancestors 'none'). ---
    embed_frame_ancestors: str = "*"
    qr_max_link: int = 2048  # characters of a link GET /qr.svg draws (app/web/pages/qr.py): past ~2,000 a QR code
    # needs over 150 modules a side, too fine for a phone to read off a projector
    # --- decks of live slides (/deck, app/web/pages/deck_link.py): what a deck link may hold. A slide is up to
    # three link fields (s, t, n), and a link holds at most 64 fields (app.web.kit.link): keep slides ≤ 21 ---
    deck_max_slides: int = 20  # slides in one deck (a ten-minute lecture needs six to ten)
    deck_max_slide_link: int = 16 * 1024  # characters of one slide's lab link (a lab's longest link is ~14 KB)
    deck_max_title: int = 120  # characters of a slide's title
    deck_max_note: int = 2000  # characters of a slide's speaker note


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings in force (a FastAPI dependency; override it in tests)."""
    return Settings()
