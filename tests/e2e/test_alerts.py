"""deploy/prometheus: the alerting rules load (promtool check rules) and fire as their unit
tests expect (promtool test rules: certificate expiry, budget saturation, accept errors,
keepalive failures, the 5xx rate, each beside a case that must not fire), and every metric
they name is one hbone exports."""

import re
import subprocess

from harness import ROOT

RULES = ROOT / "deploy" / "prometheus"


def test_rules_check_and_pass_their_unit_tests():
    for args in (["check", "rules", "hbone-rules.yaml"], ["test", "rules", "hbone-rules.test.yaml"]):
        out = subprocess.run(["promtool", *args], cwd=RULES, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_rules_name_only_exported_metrics():
    names = set(re.findall(r"\b((?:hbone|istio)_[a-z_]+)", (RULES / "hbone-rules.yaml").read_text()))
    source = "".join(p.read_text() for p in (ROOT / "lib" / "metrics").glob("*.cc"))
    assert names and not sorted(n for n in names if n not in source)
