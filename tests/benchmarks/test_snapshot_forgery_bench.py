import json

from turngym.benchmarks import snapshot_forgery


def test_survey_counts_every_forgery_of_each_form_and_mode(tmp_path):
    out = tmp_path / "forgery.json"
    status = snapshot_forgery.main(["--only", "KuhnPoker", "--budget", "8", "--out", str(out)])
    report = json.loads(out.read_text())
    combos = {(r["mode"], r["form"]) for r in report["rows"]}
    assert combos == {("text", "single"), ("text", "aec"), ("vector", "single"), ("vector", "aec")}
    assert all(r["forged"] > 0 and 0 < r["accepted"] < r["forged"] for r in report["rows"])
    assert report["total"] == sum(r["forged"] for r in report["rows"])
    assert status == 0 and report["broke"] == 0 and report["budget"] == 8 and report["seed"] == 0
