//! The Kubernetes manifests in `deploy/kubernetes/`: every document parses and names its kind;
//! the pieces refer to each other correctly (selectors, port names, ConfigMap, Secret, mount
//! path); the ConfigMap's exporter configuration passes `--check-config` with the real binary;
//! the PrometheusRule is exactly what its generator makes from `alerts/`, and its spec equals the
//! rules file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// Every YAML document of a manifest file.
fn docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

/// The one document of `kind` across all manifests.
fn find(all: &[(String, Value)], kind: &str) -> Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0].clone()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn manifests() -> Vec<(String, Value)> {
    let kustomization = docs("kustomization.yaml").remove(0);
    let listed: Vec<String> = kustomization["resources"]
        .as_sequence()
        .expect("kustomization resources")
        .iter()
        .map(|r| s(r).to_string())
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml"))
                && n != "kustomization.yaml"
        })
        .collect();
    present.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, present, "kustomization.yaml lists every manifest");
    listed
        .iter()
        .flat_map(|f| docs(f).into_iter().map(move |d| (f.clone(), d)))
        .collect()
}

#[test]
fn manifests_parse_and_refer_to_each_other() {
    let all = manifests();
    for (file, d) in &all {
        for key in ["apiVersion", "kind"] {
            assert!(d[key].is_string(), "{file}: {key}");
        }
        assert_eq!(
            d["metadata"]["name"], "redis-cache-exporter",
            "{file}: metadata.name"
        );
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/name"], "redis-cache-exporter",
            "{file}: label"
        );
    }
    let deployment = find(&all, "Deployment");
    let service = find(&all, "Service");
    let monitor = find(&all, "ServiceMonitor");
    let config_map = find(&all, "ConfigMap");
    let secret = find(&all, "Secret");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");

    let pod = &deployment["spec"]["template"];
    let pod_labels = pod["metadata"]["labels"].as_mapping().unwrap();
    let selects = |selector: &Value, what: &str| {
        let m = selector.as_mapping().unwrap_or_else(|| panic!("{what}"));
        assert!(!m.is_empty(), "{what} selects something");
        for (k, v) in m {
            assert_eq!(pod_labels.get(k), Some(v), "{what}: {k:?}");
        }
    };
    selects(
        &deployment["spec"]["selector"]["matchLabels"],
        "Deployment selector",
    );
    selects(&service["spec"]["selector"], "Service selector");

    let containers = pod["spec"]["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let port_names: Vec<&str> = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| s(&p["name"]))
        .collect();
    assert_eq!(
        c["ports"][0]["containerPort"], 9122,
        "the exporter's default port"
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert!(
            port_names.contains(&s(&c[probe]["httpGet"]["port"])),
            "{probe} port"
        );
    }
    let svc_port = &service["spec"]["ports"][0];
    assert!(
        port_names.contains(&s(&svc_port["targetPort"])),
        "Service targetPort"
    );
    // The ServiceMonitor selects the Service and scrapes one of its named ports.
    let monitor_selects = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    assert!(
        !monitor_selects.is_empty(),
        "ServiceMonitor selector selects something"
    );
    for (k, v) in monitor_selects {
        assert_eq!(
            service["metadata"]["labels"].get(k),
            Some(v),
            "ServiceMonitor selector"
        );
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], svc_port["name"], "ServiceMonitor port");
    assert_eq!(endpoint["path"], "/metrics");

    // Config file: args → mount path → volume → ConfigMap key.
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    let mount = &c["volumeMounts"][0];
    let (mount_dir, key) = config_path.rsplit_once('/').unwrap();
    assert_eq!(s(&mount["mountPath"]), mount_dir);
    let volume = pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    assert!(config_map["data"][key].is_string(), "ConfigMap key {key}");
    // The password variable comes from the Secret's key.
    let env = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "REDIS_PASSWORD")
        .expect("REDIS_PASSWORD");
    let secret_ref = &env["valueFrom"]["secretKeyRef"];
    assert_eq!(secret_ref["name"], secret["metadata"]["name"]);
    assert!(secret["stringData"][s(&secret_ref["key"])].is_string());
    // Runs as the image's non-root user, read-only.
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
}

#[test]
fn configmap_config_passes_check_config() {
    let all = manifests();
    let config_map = find(&all, "ConfigMap");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, s(&config_map["data"]["config.toml"])).unwrap();
    let run = |password: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_redis-cache-exporter"));
        cmd.arg("--config")
            .arg(&path)
            .arg("--check-config")
            .env_remove("REDIS_PASSWORD");
        if let Some(p) = password {
            cmd.env("REDIS_PASSWORD", p);
        }
        cmd.output().unwrap()
    };
    let ok = run(Some("from-the-secret"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Without the Secret's variable it is refused: the check reads the config for real.
    let refused = run(None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("REDIS_PASSWORD"));
}

#[test]
fn prometheusrule_is_generated_from_alerts() {
    let out = Command::new("bash")
        .arg(dir().join("generate-prometheusrule.sh"))
        .arg("--stdout")
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(dir().join("prometheusrule.yaml")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "deploy/kubernetes/prometheusrule.yaml is stale: run bash \
         deploy/kubernetes/generate-prometheusrule.sh"
    );
    let rule = docs("prometheusrule.yaml").remove(0);
    assert_eq!(rule["kind"], "PrometheusRule");
    let rules_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/redis-cache-health.rules.yml");
    let rules: Value = serde_yaml::from_str(&std::fs::read_to_string(rules_file).unwrap()).unwrap();
    assert_eq!(rule["spec"], rules, "spec is the rules file");
    let alerts = rule["spec"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .filter(|r| r["alert"].is_string())
        .count();
    assert!(alerts >= 8, "{alerts} alerts");
}
