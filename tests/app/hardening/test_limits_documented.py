"""Issue 13: the limits are the same in the code (Settings), the OpenAPI schema and the README."""

from __future__ import annotations

from app.paths import ROOT
from app.settings import Settings

S = Settings()


def test_the_readme_states_the_settings_limits():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for phrase in (f"{S.api_max_elements:,} numbers per array", f"batch {S.api_max_batch}",
                   f"kernel {S.api_max_kernel}", f"{S.max_optimizer_steps} optimizer steps",
                   f"the network trace: {S.max_elements} numbers per array, batch {S.max_batch}, "
                   f"{S.network_max_layers} layers per list, {S.network_max_params:,} learnable numbers",
                   f"a request body over {S.max_body_bytes // 2**20} MiB", f"a URL over {S.max_url_bytes // 1024} KiB",
                   f"client_max_body_size {S.max_body_bytes // 2**20}m"):
        assert phrase in readme, phrase


def test_the_schema_states_the_settings_limits(client):
    schema = client.get("/openapi.json").json()
    trace = schema["components"]["schemas"]["TraceRequest"]["properties"]
    assert trace["labels"]["maxItems"] == S.max_batch
    assert trace["x"]["anyOf"][1]["maxItems"] == S.max_batch
    layers = trace["model"]["properties"]["layers"]
    assert layers["maxItems"] == S.network_max_layers
    ops = schema["components"]["schemas"]["OpRequest"]["properties"]["inputs"]
    assert f"{S.api_max_elements:,} numbers" in ops["additionalProperties"]["description"]
    grads = schema["components"]["schemas"]["OptimizerRequest"]["properties"]["grads"]
    assert grads["maxItems"] == S.max_optimizer_steps
    description = schema["paths"]["/api/v1/networks/trace"]["post"]["description"]
    assert f"at most {S.max_batch} examples" in description and f"{S.network_max_layers} layers" in description
