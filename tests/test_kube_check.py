"""`rivaverify kube check` on manifests shaped like NVIDIA's riva-api chart, NIM Operator samples and the NIM Helm
chart (tests/data/kube/, each naming its source), and on each broken in one place."""

from __future__ import annotations

import copy
import io
import json

import pytest
import yaml

from rivaverify import shim
from rivaverify.cli import main
from rivaverify.kube.check import check
from rivaverify.kube.manifests import load
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "kube"
CHART = str(DATA / "riva-api-chart.yaml")
NIMSERVICE = str(DATA / "nimservice-riva-asr.yaml")
NIM_CHART = str(DATA / "nim-llm-chart-asr.yaml")
SHIM = shim.render("/data/models")  # what `rivaverify shim install . --print` writes


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["kube", "check", *argv])
    return code, capsys.readouterr().out


def objs(path: str) -> list[dict]:
    return copy.deepcopy(load([path]))


def api(objects: list[dict], kind: str = "Deployment") -> dict:
    """The first container of the first `kind` (the Riva server in these files)."""
    o = next(o for o in objects if o["kind"] == kind)
    return (o["spec"]["template"]["spec"] if kind != "Pod" else o["spec"])["containers"][0]


def checks(objects: list[dict]) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in check(objects).findings:
        out.setdefault(f.check, []).append(f)
    return out


def with_shim(objects: list[dict], mode: int = 0o755, script: str = SHIM) -> list[dict]:
    """The chart on riva-speech 2.19.0 (start-riva's bug) with the shim mounted from a ConfigMap, first on PATH."""
    c = api(objects)
    c["image"] = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
    c["env"].append({"name": "PATH", "value": "/opt/riva-shim:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"})
    c["volumeMounts"].append({"name": "riva-shim", "mountPath": "/opt/riva-shim", "readOnly": True})
    spec = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "riva-shim", "configMap": {"name": "riva-shim", "defaultMode": mode}})
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "riva-shim"},
                    "data": {"tritonserver": script}})
    return objects


def test_nvidias_chart_as_shipped_is_clean_and_names_its_server(capsys):
    code, out = run(capsys, CHART)
    assert code == 0, out
    assert "no findings" in out and "Deployment/riva-api riva-speech-api (classic)" in out


def test_the_chart_on_a_release_with_the_launcher_bug_needs_the_shim_and_passes_with_it():
    broken = objs(CHART)
    api(broken)["image"] = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
    [f] = checks(broken)["shim"]
    assert f.obj == "Deployment/riva-api" and f.field.endswith("containers[riva-speech-api].env[PATH]")
    assert "PATH not set" in f.actual and "rivaverify shim install" in f.fix
    assert checks(with_shim(objs(CHART))) == {}


@pytest.mark.parametrize("mode,script,field,actual", [
    (0o644, SHIM, "configMap.defaultMode", "0o644"),
    (0o755, "#!/bin/sh\nexec tritonserver \"$@\"\n", "ConfigMap/riva-shim.data.tritonserver", "never adds"),
])
def test_a_shim_that_is_not_executable_or_not_a_shim_is_named(mode, script, field, actual):
    [f] = checks(with_shim(objs(CHART), mode, script))["shim"]
    assert f.field.endswith(field) and actual in f.actual


def test_a_path_whose_first_entry_is_no_mounted_volume_is_advice_not_error():
    o = with_shim(objs(CHART))
    api(o)["env"][-1]["value"] = "/usr/local/bin:/opt/riva-shim"
    [f] = checks(o)["shim"]
    assert f.level == "advice" and "/usr/local/bin" in f.expected


def test_tritonserver_started_directly_needs_model_repository():
    o = objs(CHART)
    api(o)["command"], api(o)["args"] = ["tritonserver"], ["--log-verbose=1"]
    [f] = checks(o)["shim"]
    assert "--model-repository" in f.expected and f.actual == "tritonserver --log-verbose=1"
    api(o)["args"].append("--model-repository=/data/models")
    assert "shim" not in checks(o)


def test_a_startup_budget_under_the_cold_start_names_both_numbers():
    o = objs(CHART)
    api(o)["startupProbe"]["failureThreshold"] = 3
    [f] = checks(o)["startup-budget"]
    assert "130 s" in f.expected and f.actual == "10 + 3 x 10 = 40 s (startupProbe)" and "to 12" in f.fix


def test_engines_built_in_the_api_container_need_an_hour():
    o = objs(CHART)
    api(o)["args"] = ["-c", "download_and_deploy_ngc_models rmir_asr && /opt/riva/bin/start-riva"]
    [f] = checks(o)["startup-budget"]
    assert "3600 s" in f.expected and "130 s" in f.actual


def test_no_probe_that_restarts_means_no_budget_to_miss():
    o = objs(CHART)
    del api(o)["startupProbe"], api(o)["livenessProbe"]
    assert "startup-budget" not in checks(o)


def test_gpu_limit_missing_is_named_and_the_charts_visible_gpus_variant_is_accepted():
    o = objs(CHART)
    del api(o)["resources"]
    [f] = checks(o)["gpu"]
    assert f.field.endswith("containers[riva-speech-api].resources.limits") and "none" in f.actual
    api(o)["env"].append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "1"})
    assert "gpu" not in checks(o)


def test_a_literal_ngc_key_is_named_without_its_value():
    o = objs(CHART)
    init = next(x for x in o if x["kind"] == "Deployment")["spec"]["template"]["spec"]["initContainers"][0]
    init["env"][1] = {"name": "NGC_CLI_API_KEY", "value": "nvapi-sEcReT"}
    [f] = checks(o)["secret-literal"]
    assert "initContainers[riva-model-init].env[NGC_CLI_API_KEY]" in f.field
    assert "12 characters" in f.actual and "sEcReT" not in json.dumps(f.__dict__)


def test_a_secret_key_the_given_secret_lacks_is_named():
    o = objs(CHART) + [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "modelpullsecret"},
                        "data": {"NGC_API_KEY": "eA=="}}]
    [f] = checks(o)["secret-ref"]
    assert "'apikey'" in f.actual and "NGC_API_KEY" in f.expected


def test_a_readwriteonce_claim_under_two_replicas_and_its_single_node_variant():
    o = objs(CHART)
    dep = next(x for x in o if x["kind"] == "Deployment")
    dep["spec"]["replicas"] = 2
    dep["spec"]["template"]["spec"]["volumes"][1] = {"name": "workdir",
                                                     "persistentVolumeClaim": {"claimName": "riva-workdir-pvc"}}
    o.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "riva-workdir-pvc"},
              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}})
    [f] = checks(o)["rwo-shared"]
    assert "replicas 2" in f.actual and "ReadWriteOnce" in f.actual
    dep["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "gpu-1"}
    assert "rwo-shared" not in checks(o)


def test_health_only_probes_are_advice_unless_a_transcribing_test_exists():
    o = [x for x in objs(CHART) if x["kind"] != "Pod"]  # no helm test
    [f] = checks(o)["probes-health-only"]
    assert f.level == "advice" and "grpc_health_probe" in f.actual and "rivaverify serve" in f.fix


def test_the_nimservice_sample_has_only_the_audio_advice_and_strict_fails_it(capsys):
    code, out = run(capsys, NIMSERVICE)
    assert code == 0 and "0 error(s), 1 advice" in out
    assert run(capsys, "--strict", NIMSERVICE)[0] == 1


@pytest.mark.parametrize("change,check_name,field", [
    (lambda s: s.update(startupProbe={"enabled": False}), "startup-budget", "spec.livenessProbe"),
    (lambda s: s.update(startupProbe={"probe": {"periodSeconds": 10, "failureThreshold": 10}}), "startup-budget",
     "spec.startupProbe"),
    (lambda s: s.update(resources={}), "gpu", "spec.resources.limits"),
    (lambda s: (s.pop("authSecret"), s.update(storage={"pvc": {"create": True}})), "ngc-key", "spec.authSecret"),
    (lambda s: s.update(env=[{"name": "NGC_API_KEY", "value": "nvapi-x"}]), "secret-literal", "spec.env[NGC_API_KEY]"),
])
def test_a_nimservice_broken_in_one_place_is_named(change, check_name, field):
    o = objs(NIMSERVICE)
    change(next(x for x in o if x["kind"] == "NIMService")["spec"])
    [f] = checks(o)[check_name]
    assert f.obj == "NIMService/parakeet-asr" and f.field == field


def test_a_nimservice_without_cache_needs_the_cold_budget_and_status_failures_are_named():
    o = objs(NIMSERVICE)
    svc = next(x for x in o if x["kind"] == "NIMService")
    svc["spec"]["storage"] = {"pvc": {"create": True, "volumeAccessMode": "ReadWriteOnce"}}
    svc["spec"]["startupProbe"] = {"probe": {"initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 30}}
    svc["status"]["state"] = "Failed"
    found = checks(o)
    assert "1230 s" in found["startup-budget"][0].expected and found["status"][0].actual == "Failed"


def test_the_operators_autoscaling_sample_shares_a_readwriteonce_cache(capsys):
    code, out = run(capsys, str(DATA / "nimservice-autoscaling.yaml"))
    assert code == 1 and "spec.scale.hpa.maxReplicas [rwo-shared]" in out and "NIMCache/parakeet-asr" in out


def test_a_nim_deployment_checks_shm_and_its_key():
    o = objs(NIM_CHART)
    c = api(o)
    assert set(checks(o)) == {"rwo-shared", "probes-health-only"}
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "dshm"]
    c["env"] = [e for e in c["env"] if e["name"] != "NGC_API_KEY"]
    found = checks(o)
    assert "64 MiB" in found["shm"][0].actual and found["ngc-key"][0].actual == "not set"


def test_schema_errors_are_findings_and_unknown_kinds_are_listed_as_not_validated(capsys, tmp_path):
    o = objs(CHART)
    api(o)["ports"][0]["containerPort"] = "speech"
    o.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump_all(o))
    code, out = run(capsys, "--json", str(f))
    doc = json.loads(out)
    [schema] = [x for x in doc["findings"] if x["check"] == "schema"]
    assert code == 1 and schema["field"].endswith("ports.0.containerPort") and "'speech'" in schema["actual"]
    assert doc["skipped"][0].startswith("Widget/w: no schema")


def test_stdin_and_lists_as_kubectl_writes_them(capsys, monkeypatch):
    items = {"apiVersion": "v1", "kind": "List", "items": objs(CHART)}
    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(items)))
    code, out = run(capsys, "-")
    assert code == 0 and "checked 4 object(s)" in out


@pytest.mark.parametrize("text", ["a: [unclosed", "- just\n- a list\n", ""])
def test_unreadable_input_exits_2(capsys, tmp_path, text):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    assert main(["kube", "check", str(f)]) == 2
    assert "unreadable input" in capsys.readouterr().err


def test_the_charts_separate_triton_variant_needs_no_gpu_or_shim_in_the_api_pod():
    o = objs(CHART)
    c = api(o)
    c["image"] = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
    c["command"] = ["/etc/start-riva-with-multiple-triton.sh"]
    c["args"].append("--triton_uri=tritongroup0:8001")
    del c["resources"]
    assert checks(o) == {}
    c["startupProbe"]["failureThreshold"] = 2  # its budget still counts
    assert list(checks(o)) == ["startup-budget"]


def test_schemas_validate_offline(monkeypatch):
    """kubernetes-validate ships its schemas: with every connection refused, validation still finds an error."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("no network in this test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    o = objs(CHART)
    api(o)["ports"][0]["containerPort"] = "speech"
    assert [f.field for f in checks(o)["schema"]] == ["spec.template.spec.containers.0.ports.0.containerPort"]
