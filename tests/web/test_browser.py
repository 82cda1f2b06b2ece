"""The DIGITS loop in a real browser: Debian's headless Chromium driven by Playwright.

One Chromium serves the module; each test gets a fresh workspace served by its own
``lumos ui`` and a fresh browser context, and builds what it starts from (a dataset, a
trained job, a saved model) through the library, so no test depends on another. A job is
awaited in the store until it reaches its state, then on the page. Screenshots of every
page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from helpers import chromium, colour_folders, running_server, wait_for_job
from lumos.data import import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.jobs import Job, abort_job, find_jobs
from lumos.label import LabelProject, images_below
from lumos.recipe import Recipe
from lumos.sweep import create_sweep
from lumos.train import train
from lumos.train.run import queue_training
from lumos.web.app import create_app
from lumos.web.settings import WebSettings
from lumos.workspace import Workspace

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class Site:
    url: str
    workspace: Workspace
    folder: Path  # where a test writes source files; the server's forms may name them


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A running ``lumos ui`` (with its job runner) on a fresh workspace."""
    workspace = Workspace(tmp_path / "workspace")
    with running_server(create_app(WebSettings(workspace, roots=[tmp_path]))) as (url, _):
        yield Site(url, workspace, tmp_path)


@pytest.fixture
def page(browser, site: Site):
    """A fresh browser context's page; any answer of 500 or more fails the test."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    broken: list[str] = []
    context.on("response", lambda r: r.status >= 500 and broken.append(f"{r.status} {r.url}"))
    page = context.new_page()
    page.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)  # a page that polls shows a state the store already has
    yield page
    context.close()
    assert broken == [], broken


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _png_file(name: str, pixels: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def _job_on_page(page, site: Site, state: str = "done") -> str:
    """The job whose page is open, awaited in the store until ``state``, then on its page."""
    job_id = page.url.rsplit("/", 1)[1]
    wait_for_job(site.workspace, job_id, state)
    expect(page.locator("#job-state")).to_have_text(state)
    return job_id


def _points(page, chart: str) -> int:
    return page.evaluate(
        f"() => (document.getElementById('{chart}').data || [{{x: []}}])[0].x.length"
    )


def _colours(site: Site) -> None:
    """Dataset ``colours``: 20 noisy 16x16 squares of red, green and blue each."""
    source = colour_folders(site.folder / "colours", per_class=20)
    import_dataset(source, "colours", workspace=site.workspace)


def _trained(site: Site) -> Job:
    """A LeNet-5 trained on ``colours`` as the model form would start it (pinned to fp32)."""
    recipe = Recipe(dataset="colours", network="lenet5", epochs=8, batch_size=4, lr=0.05,
                    optimizer="sgd", workers=0, precision="fp32")  # fmt: skip
    return train(recipe, workspace=site.workspace, progress=False)


def _saved(site: Site) -> None:
    """``colours`` and ``colour-net``, a LeNet-5 trained on it and saved."""
    _colours(site)
    bundle_from_job(_trained(site).id, "colour-net", workspace=site.workspace)


def test_create_dataset_from_a_folder(page, site: Site) -> None:
    page.goto("/")
    expect(page.locator("#datasets td.empty")).to_have_text("no datasets yet: create one")
    _shot(page, "home-empty")
    source = colour_folders(site.folder / "colours", per_class=20)
    page.goto("/datasets/new")
    page.fill("input[name=name]", "colours")
    page.fill("input[name=source]", str(source))
    page.fill("input[name=width]", "16")
    page.fill("input[name=height]", "16")
    page.click("#preview-button")  # the source's first image
    expect(page.locator("#resize-previews img")).to_have_count(4)
    before = page.locator("#resize-previews img").first.get_attribute("src")
    wide = np.zeros((32, 96, 3), np.uint8)
    wide[:, :, 0] = np.linspace(0, 255, 96, dtype=np.uint8)  # a red ramp, 3:1
    wide[8:24, 40:56] = (40, 200, 40)
    page.set_input_files("#preview-image", _png_file("wide.png", wide))
    expect(page.locator("#resize-previews img").first).not_to_have_attribute(
        "src", before
    )  # the previews follow the chosen image
    chosen = page.locator("#resize-previews figure.chosen figcaption")
    expect(chosen).to_have_text("squash")
    page.select_option("select[name=resize_mode]", "crop")
    expect(chosen).to_have_text("crop")
    page.locator("#resize-previews figure", has_text="squash").click()
    expect(page.locator("select[name=resize_mode]")).to_have_value("squash")
    _shot(page, "dataset-new")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs/import-"))
    _job_on_page(page, site)
    # An import's page: what it made, with a link; no training charts, nothing to save.
    expect(page.locator("#result-list a", has_text="colours")).to_have_attribute(
        "href", "/datasets/colours"
    )
    expect(page.locator("#train-charts")).to_be_hidden()
    expect(page.locator("#save-model")).to_be_hidden()
    _shot(page, "job-import")
    page.click("#clone-job")
    page.wait_for_url(re.compile(r"/datasets/new\?clone=import-"))
    expect(page.locator("input[name=source]")).to_have_value(str(source))
    expect(page.locator("input[name=width]")).to_have_value("16")


def test_explorer_filters_by_class(page, site: Site) -> None:
    _colours(site)
    page.goto("/datasets/colours")
    expect(page.locator("#gallery figure")).to_have_count(60)
    page.select_option("#class-filter", "red")
    expect(page.locator("#gallery figure")).to_have_count(20)
    captions = page.locator("#gallery figcaption").all_inner_texts()
    assert all(c.startswith("red ·") for c in captions)
    assert "class=red" in page.url
    _shot(page, "dataset-explorer")


def _unfold(page, group: str) -> None:
    """Open a group of the model form (folded, or already opened by a value set in it)."""
    details = page.locator("#field-panel details", has=page.locator(f"summary:has-text('{group}')"))
    details.evaluate("(group) => { group.open = true; }")


def _start_training(page, epochs: int) -> str:
    page.goto("/models/new?dataset=colours")
    expect(page.locator("#network-select option[value=lenet5]")).to_have_count(1)
    page.select_option("#network-select", "lenet5")
    _unfold(page, "Run")
    for name, value in {"epochs": epochs, "batch_size": 4, "lr": 0.05, "workers": 0}.items():
        page.fill(f"input[name={name}]", str(value))
    page.select_option("select[name=optimizer]", "sgd")
    expect(page.locator("#network-summary table")).to_have_count(1)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs/train-"))
    return page.url.rsplit("/", 1)[1]


def test_training_job_charts_every_epoch(page, site: Site) -> None:
    _colours(site)
    _start_training(page, epochs=8)
    _job_on_page(page, site)
    page.wait_for_function("() => document.getElementById('score-chart').data?.[0]?.x.length === 8")
    assert _points(page, "loss-chart") >= 8
    expect(page.locator("#epochs-table tbody tr")).to_have_count(8)
    _shot(page, "job-done")


def test_chart_grows_while_training_then_abort_and_clone(page, site: Site) -> None:
    _colours(site)
    job_id = _start_training(page, epochs=400)
    _job_on_page(page, site, "running")
    page.wait_for_function("() => document.getElementById('loss-chart').data?.[0]?.x.length > 0")
    first = _points(page, "loss-chart")
    page.wait_for_function(
        f"() => document.getElementById('loss-chart').data[0].x.length > {first}"
    )
    _shot(page, "job-training")
    page.click("#abort-job")
    _job_on_page(page, site, "aborted")
    expect(page.locator("#job-error")).to_contain_text("resume with")
    page.click("#clone-job")
    page.wait_for_url(re.compile(rf"/models/new\?clone={job_id}"))
    expect(page.locator("input[name=epochs]")).to_have_value("400")
    expect(page.locator("#flash")).to_contain_text(f"filled from job {job_id}")
    _unfold(page, "Augmentation")
    page.fill("input[name=rotation]", "30")
    page.click("#augment-button")
    page.wait_for_function("() => document.getElementById('augment-preview').naturalWidth > 0")
    _shot(page, "model-new")


def test_save_model_classify_an_upload_and_download(page, site: Site) -> None:
    _colours(site)
    job = _trained(site)
    page.goto("/")
    page.locator("#jobs tr", has_text="done").filter(has_text="lenet5").locator("a").click()
    page.wait_for_url(re.compile(rf"/jobs/{job.id}$"))
    page.once("dialog", lambda dialog: dialog.accept("colour-net"))
    page.click("#save-model")  # a job: the page follows it, then links the model
    page.locator("#flash a", has_text="colour-net").click()
    page.wait_for_url(re.compile(r"/models/colour-net$"))
    page.set_input_files(
        "#predict-image", _png_file("red.png", np.full((16, 16, 3), (230, 40, 30), np.uint8))
    )
    page.click("#predict-form button[type=submit]")
    expect(page.locator("#answer .bar-row")).to_have_count(3)
    assert page.locator("#answer .bar-row span").first.inner_text() == "red"
    expect(page.locator("#answer-picture")).to_be_visible()
    page.click("#show-layers")
    expect(page.locator("#layers .layer h3", has_text="Conv2d").first).to_be_visible()
    _shot(page, "model")
    with page.expect_download() as download:
        page.click("#download-model")
    assert download.value.suggested_filename == "colour-net.lumos"

    # Optimise to INT8 from the Deploy card: a job, then a row with its score and a download.
    page.select_option("#optimize-form select[name=precision]", "int8")
    page.click("#optimize-form button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs/optimize-"))
    _job_on_page(page, site)
    # An optimisation's page: its result links the model and the artefact; no clone, no save.
    expect(page.locator("#result-list a", has_text="int8")).to_have_attribute(
        "href", "/api/models/colour-net/artefacts/int8"
    )
    for button in ("#save-model", "#clone-job"):
        expect(page.locator(button)).to_be_hidden()
    _shot(page, "job-optimize")
    page.goto("/models/colour-net")
    row = page.locator("#artefact-table tr", has_text="int8")
    expect(row).to_contain_text("top-1 accuracy")
    _shot(page, "model-deploy")
    with page.expect_download() as artefact:
        row.locator("a", has_text="download").click()
    assert artefact.value.suggested_filename == "colour-net-int8.onnx"
    page.set_input_files(
        "#many-form input[name=images]",
        [_png_file(f"{c}.png", np.full((16, 16, 3), v, np.uint8)) for c, v in
         (("red", (230, 40, 30)), ("blue", (30, 40, 230)))],
    )  # fmt: skip
    page.click("#many-form button[type=submit]")
    expect(page.locator("#many-result")).to_contain_text("2 images")
    assert "null" not in page.locator("#many-result").inner_text()
    page.goto("/")
    expect(page.locator("#models a", has_text="colour-net")).to_have_count(1)
    optimised = page.locator("#jobs tr", has_text="optimise colour-net")
    assert optimised.locator(".progress div").get_attribute("style") == "width: 100%;"
    _shot(page, "home")


def test_a_sample_imports_from_the_new_dataset_page(page, site: Site) -> None:
    page.goto("/datasets/new")
    expect(page.locator("#sample")).to_contain_text("shapes")
    expect(page.locator("#sample")).not_to_contain_text("``")  # plain text, not markup
    page.select_option("#sample", "sample:digits")
    expect(page.locator("input[name=name]")).to_have_value("digits")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs/import-"))
    _job_on_page(page, site)
    page.locator("#result-list a", has_text="digits").click()
    expect(page.locator("#dataset-summary")).to_contain_text("classification")
    expect(page.locator("#class-chart .xtick")).to_have_count(10)  # every class named


def test_the_new_model_form_suggests_a_network_for_the_data(page, site: Site) -> None:
    _colours(site)
    import_dataset("sample:digits", "digits", workspace=site.workspace, max_per_class=10)
    page.goto("/models/new?dataset=digits")
    expect(page.locator("#network-select")).to_have_value("lenet5")
    page.select_option("#dataset-select", "colours")
    expect(page.locator("#network-select")).to_have_value("resnet18")
    plan = page.locator("#network-plan")
    expect(plan).to_contain_text("Training at batch")
    page.select_option("#plan-gpu", "t4")
    expect(plan).to_contain_text(re.compile(r"On the NVIDIA T4: largest batch \d+"))
    # The epoch part by part, each said to be measured here or estimated.
    expect(plan).to_contain_text(re.compile(r"compute [\d.e+-]+ s \(estimated"))
    expect(plan).to_contain_text(re.compile(r"step overhead [\d.e+-]+ s \(measured"))
    expect(plan).to_contain_text(re.compile(r"loading [\d.e+-]+ s \(measured"))
    expect(plan).to_contain_text(re.compile(r"at its peak( \(between .*\))? = weights .* working"))
    page.fill("input[name=batch_size]", "8")
    page.dispatch_event("input[name=batch_size]", "change")
    expect(plan).to_contain_text("Training at batch 8")
    expect(plan).to_contain_text(re.compile(r"at its peak = weights"))  # measured at 8: a point
    _shot(page, "model-new-plan")


def test_the_new_model_form_offers_published_weights_and_the_finetune_preset(
    page, site: Site
) -> None:
    _colours(site)
    page.goto("/models/new?dataset=colours")
    expect(page.locator("#network-select")).to_have_value("resnet18")
    weights = page.locator("#init-select option", has_text="torchvision:resnet18.IMAGENET1K_V1")
    expect(weights).to_contain_text("acc@1 69.8 on ImageNet-1K, 44.7 MB, 11,689,512 parameters")
    page.select_option("#init-select", "torchvision:resnet18.IMAGENET1K_V1")
    expect(page.locator("input[name=init]")).to_have_value("torchvision:resnet18.IMAGENET1K_V1")
    page.click("#preset-button")  # the planner measures each network here: not instant
    expect(page.locator("#flash")).to_contain_text("preset finetune: ", timeout=120_000)
    chosen = page.locator("#network-select").input_value()
    expect(page.locator("#flash")).to_contain_text(f"preset finetune: {chosen} from torchvision:")
    expect(page.locator("select[name=finetune]")).to_have_value("lp-ft")
    expect(page.locator("input[name=input_size]")).to_have_value("64,64")  # 16 px raised
    expect(page.locator("#init-select")).to_have_value(
        page.locator("input[name=init]").input_value()
    )
    batch = page.locator("input[name=batch_size]").input_value()
    expect(page.locator("#network-plan")).to_contain_text(f"Training at batch {batch} ")
    _shot(page, "model-new-preset")


def test_the_transfer_page_ranks_the_store_and_fills_the_model_form(page, site: Site) -> None:
    _saved(site)
    page.goto("/datasets/colours")
    page.click("#transfer-link")
    page.wait_for_url(re.compile(r"/datasets/colours/transfer$"))
    page.click("#rank-button")  # a job, followed on the page
    row = page.locator("#transfer-table tbody tr", has_text="colour-net")
    expect(row).to_contain_text("lenet5")
    expect(row).to_contain_text("1 of 1")  # where it stands, not a raw score
    expect(page.locator("#transfer-table thead")).to_contain_text("vs from scratch")
    expect(page.locator("#transfer-table thead")).to_contain_text("rank interval")
    status = page.locator("#transfer-status")
    expect(status).to_contain_text("1 model ranked, best first, by the mean place on")
    expect(status).to_contain_text("budget 10% of the fine-tuning run")
    ranked = page.request.get("/api/datasets/colours/transfer").json()["ranking"]
    if ranked["overrun"]:  # a ranking that took longer than its budget says so
        expect(page.locator("#transfer-warnings")).to_contain_text(ranked["overrun"])
    said = status.text_content()
    page.reload()  # nothing changed: the ranking kept is shown at once
    expect(status).to_have_text(said)
    assert len(find_jobs(site.workspace, "rank")) == 1
    page.select_option("#strategy", "lp-ft")  # chosen after ranking: the link follows it
    _shot(page, "transfer")
    row.locator("a", has_text="Fine-tune from this one").click()
    page.wait_for_url(re.compile(r"/models/new\?"))
    expect(page.locator("#network-select")).to_have_value("lenet5")
    expect(page.locator("input[name=init]")).to_have_value("colour-net")
    expect(page.locator("select[name=finetune]")).to_have_value("lp-ft")
    page.fill("input[name=epochs]", "2")
    page.fill("input[name=batch_size]", "8")
    page.click("#train-form button[type=submit]")
    page.wait_for_url(re.compile(r"/jobs/train-"))
    _job_on_page(page, site)
    expect(page.locator("#job-log")).to_contain_text("colour-net")


def test_a_sweep_started_from_the_web_is_followed_and_plotted(page, site: Site) -> None:
    import_dataset("sample:digits", "digits", workspace=site.workspace, max_per_class=30)
    page.goto("/models/new?dataset=digits")
    expect(page.locator("#network-select")).to_have_value("lenet5")
    page.fill("input[name=epochs]", "1")
    page.fill("input[name=batch_size]", "32")
    page.click("#sweep-button")  # these settings as the sweep's base
    page.wait_for_url(re.compile(r"/sweeps\?recipe="))
    expect(page.locator("textarea[name=recipe]")).to_have_value(re.compile('network: "lenet5"'))
    page.fill("input[name=name]", "web-sweep")
    page.fill("input[name=trials]", "3")
    page.select_option("select[name=sampler]", "random")
    page.fill("textarea[name=params]", "lr=log:1e-3:0.3\nbatch_size=16,32")
    page.click("#sweep-form button[type=submit]")
    page.wait_for_url(re.compile(r"/sweeps/web-sweep$"))
    expect(page.locator("#sweep-trials tbody tr")).to_have_count(3)  # the page follows it
    expect(page.locator("#sweep-summary")).to_contain_text("3 of 3 trials finished")
    expect(page.locator("#sweep-best")).to_contain_text("Best: trial")
    lines = page.locator("#sweep-parallel .scatterlayer .trace")  # a line a finished trial
    expect(lines).to_have_count(3)
    axes = page.locator("#sweep-parallel .xtick text")
    expect(axes).to_have_text(["lr", "batch_size", "val_accuracy"])
    page.goto("/sweeps")
    expect(page.locator("#sweep-list a", has_text="web-sweep")).to_have_count(1)
    page.click("#sweep-list a:has-text('web-sweep')")
    page.click("#sweep-trials tbody tr >> nth=0 >> a")
    expect(page.locator("#job-state")).to_have_text("done")
    _shot(page, "sweep-job")


def test_the_model_form_folds_its_groups_keeps_train_in_view_and_names_the_run(
    page, site: Site
) -> None:
    _colours(site)
    page.goto("/models/new?dataset=colours")
    train = page.locator("#train-form button[type=submit]")
    expect(train).to_be_in_viewport()  # at the top of a long form too
    expect(page.locator("input[name=rotation]")).to_be_hidden()  # its group folded
    page.mouse.wheel(0, 5000)
    expect(train).to_be_in_viewport()
    page.select_option("#network-select", "lenet5")
    _unfold(page, "Run")
    for name, value in {"epochs": 1, "batch_size": 4, "workers": 0}.items():
        page.fill(f"input[name={name}]", str(value))
    page.fill("input[name=run_name]", "my first run")
    train.click()
    page.wait_for_url(re.compile(r"/jobs/train-"))
    expect(page.locator("#job-title")).to_have_text("my first run")
    _job_on_page(page, site)
    page.goto("/")
    expect(page.locator("#jobs td", has_text="my first run")).to_have_count(1)


def test_a_dataset_is_deleted_from_its_page_but_not_while_a_job_uses_it(page, site: Site) -> None:
    _colours(site)
    recipe = Recipe(dataset="colours", network="lenet5", batch_size=4, epochs=10_000, workers=0)
    job = queue_training(recipe, site.workspace)  # runs until aborted
    try:
        page.goto("/datasets/colours")
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#delete-dataset")
        expect(page.locator("#flash")).to_contain_text(f"dataset 'colours' is used by {job.id}")
        assert site.workspace.dataset_dir("colours").is_dir()
        page.select_option("#split-filter", "train")  # the next action takes the message away
        expect(page.locator("#flash")).to_be_hidden()
    finally:  # a job outlives the server: never leave this one training
        abort_job(site.workspace, job.id)
    wait_for_job(site.workspace, job.id, "aborted")
    page.click("#delete-dataset")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#datasets td.empty")).to_have_text("no datasets yet: create one")


def test_a_walk_of_every_page_in_two_tabs_answers_no_5xx_and_logs_no_error(
    browser, site: Site
) -> None:
    """Two tabs walk every page and click the slow buttons at the same moment (two saves of
    the model, two rankings); no answer is a 5xx, no page logs an error or a warning."""
    _colours(site)
    job = _trained(site)
    project = LabelProject.create("boxes", "detection", ["red"], workspace=site.workspace)
    project.add_images(images_below(site.folder / "colours" / "red"))
    create_sweep(Recipe(dataset="colours", network="lenet5"), ["lr=log:1e-3:0.3"],
                 name="idle", trials=2, workspace=site.workspace)  # fmt: skip
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.add_init_script("localStorage.setItem('lumos-annotator', 'walker')")
    failures, errors = [], []
    context.on("response", lambda r: r.status >= 500 and failures.append(f"{r.status} {r.url}"))
    tabs = [context.new_page(), context.new_page()]
    for tab in tabs:
        tab.set_default_timeout(60_000)
        # Errors, and warnings too (an input given "None", a pattern that is no regex).
        tab.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
        tab.on("pageerror", lambda e: errors.append(str(e)))
    for number, tab in enumerate(tabs):  # both save the run at once, under two names
        tab.goto(f"/jobs/{job.id}")
        tab.once("dialog", lambda dialog, n=number: dialog.accept(f"walk-{n}"))
        expect(tab.locator("#save-model")).to_be_visible()
    for tab in tabs:
        tab.click("#save-model")
    for number, tab in enumerate(tabs):
        expect(tab.locator("#flash a", has_text=f"walk-{number}")).to_be_visible()
    for tab in tabs:  # both rank the store at once: one job, one answer for both
        tab.goto("/datasets/colours/transfer")
        expect(tab.locator("#rank-button")).to_be_enabled()
    for tab in tabs:
        tab.click("#rank-button")
    for tab in tabs:
        expect(tab.locator("#transfer-status")).to_contain_text("2 models ranked, best first")
    pages = ["/", "/datasets/new", "/datasets/colours", "/models/new?dataset=colours",
             "/models/walk-0", f"/jobs/{job.id}", "/label", "/label/boxes", "/sweeps",
             "/sweeps/idle", "/docs"]  # fmt: skip
    for path in pages:
        for tab in tabs:
            tab.goto(path)
        for tab in tabs:
            tab.wait_for_load_state("networkidle")
    context.close()
    assert failures == [] and errors == [], (failures, errors)


def test_pages_ask_nothing_of_the_network_and_miss_nothing(page, site: Site) -> None:
    """Every request of every page (the API docs too) goes to this server and is answered;
    no page logs an error (a bad input pattern, a missing favicon)."""
    _saved(site)
    requests, failures, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto("/datasets/new")
    page.fill("input[name=name]", "a-b_c.d")
    assert page.evaluate("() => document.querySelector('input[name=name]').checkValidity()")
    page.fill("input[name=name]", "-bad")
    assert not page.evaluate("() => document.querySelector('input[name=name]').checkValidity()")
    page.goto("/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("lumos")
    page.goto("/")
    expect(page.locator("#models a", has_text="colour-net")).to_have_count(1)
    assert requests and [u for u in requests if not u.startswith((site.url, "data:"))] == []
    assert failures == [] and errors == []
