//! The Kubernetes Indexed Job's own command line, run here: the shards'
//! container command, args and env read out of `deploy/k8s/`, run as N
//! local processes with `JOB_COMPLETION_INDEX=0..N-1` and a directory for
//! the shared volume, then the merge Job's command on that directory. What
//! the cluster would fill in (the Job's uid, the target's address, the
//! common start) is given as the cluster would give it; everything else is
//! the manifests' own.

mod common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use common::{assert_exit, read_results, stdout};
use serde_yaml_ng::Value;

/// The shards Job's uid, as the downward API would give it.
const RUN_ID: &str = "3f6c0a4e-5b1d-4c8e-9a7f-2d6b8e1c0f93";

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/k8s/base")
        .join(path)
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(deploy(path)).unwrap()).unwrap()
}

/// A Job's one container, its volumes' mount paths by volume name.
struct Container {
    command: Vec<String>,
    args: Vec<String>,
    /// Literal `value`s only; the ones from the downward API or a
    /// ConfigMap are the cluster's to give.
    env: BTreeMap<String, String>,
    mounts: BTreeMap<String, String>,
}

fn container(job: &Value) -> Container {
    let spec = &job["spec"]["template"]["spec"]["containers"][0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let env = spec["env"]
        .as_sequence()
        .map(|env| {
            env.iter()
                .filter_map(|e| {
                    Some((
                        e["name"].as_str()?.to_owned(),
                        e["value"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = spec["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["mountPath"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    Container {
        command: strings(&spec["command"]),
        args: strings(&spec["args"]),
        env,
        mounts,
    }
}

/// `$(NAME)` expanded from `env`, as Kubernetes expands args; then each
/// mount path moved to its local directory.
fn expand(arg: &str, env: &BTreeMap<String, String>, mounts: &[(String, PathBuf)]) -> String {
    let mut arg = arg.to_owned();
    for (name, value) in env {
        arg = arg.replace(&format!("$({name})"), value);
    }
    assert!(
        !arg.contains("$("),
        "{arg}: a variable the manifest does not set"
    );
    for (mount, local) in mounts {
        if let Some(rest) = arg.strip_prefix(mount.as_str()) {
            return format!("{}{rest}", local.display());
        }
    }
    arg
}

/// The container's process: its command is loadgate's path in the image.
fn process(
    container: &Container,
    env: &BTreeMap<String, String>,
    mounts: &[(String, PathBuf)],
) -> tokio::process::Command {
    assert_eq!(
        container.command,
        ["/usr/local/bin/loadgate"],
        "the image's loadgate"
    );
    let mut command = tokio::process::Command::from(common::loadgate());
    command
        .args(container.args.iter().map(|a| expand(a, env, mounts)))
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexed_jobs_command_runs_shards_and_the_merge_jobs_merges_them() {
    let shards_job = yaml("loadgate/shards-job.yaml");
    let merge_job: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(deploy("../merge/merge-job.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        shards_job["spec"]["completionMode"].as_str(),
        Some("Indexed")
    );
    assert_eq!(shards_job["spec"]["backoffLimit"].as_u64(), Some(0));
    let completions = shards_job["spec"]["completions"].as_u64().unwrap() as u32;
    let shard = container(&shards_job);
    let merger = container(&merge_job);

    // The volumes: the ConfigMap's scenario, and one shared results directory.
    let dir = tempfile::tempdir().unwrap();
    let scenario_dir = dir.path().join("scenario");
    let results_dir = dir.path().join("results");
    std::fs::create_dir_all(&scenario_dir).unwrap();
    std::fs::create_dir_all(&results_dir).unwrap();
    std::fs::copy(
        deploy("loadgate/scenario.yaml"),
        scenario_dir.join("scenario.yaml"),
    )
    .unwrap();
    let kustomization = std::fs::read_to_string(deploy("kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("scenario.yaml=loadgate/scenario.yaml"),
        "the ConfigMap holds the scenario as scenario.yaml"
    );
    let mounts = |c: &Container| -> Vec<(String, PathBuf)> {
        c.mounts
            .iter()
            .map(|(name, path)| {
                let local = match name.as_str() {
                    "scenario" => scenario_dir.clone(),
                    "results" => results_dir.clone(),
                    other => panic!("a volume the test does not know: {other}"),
                };
                (path.clone(), local)
            })
            .collect()
    };

    let service = target_service::start(target_service::Config::demo())
        .await
        .unwrap();
    let start_at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(3));
    let children: Vec<_> = (0..completions)
        .map(|index| {
            let mut env = shard.env.clone();
            // What the cluster gives: the Service's address (here, the
            // bundled service), the index, the Job's uid, the start.
            env.insert("TARGET_URL".into(), service.base_url());
            env.insert("JOB_COMPLETION_INDEX".into(), index.to_string());
            env.insert("LOADGATE_RUN_ID".into(), RUN_ID.into());
            env.insert("LOADGATE_START_AT".into(), start_at.to_string());
            process(&shard, &env, &mounts(&shard)).spawn().unwrap()
        })
        .collect();
    for child in children {
        assert_exit(&child.wait_with_output().await.unwrap(), 0);
    }
    // The README's sequence puts the shards Job's uid in a ConfigMap.
    let mut env = merger.env.clone();
    env.insert("LOADGATE_RUN_ID".into(), RUN_ID.into());
    let merge = process(&merger, &env, &mounts(&merger))
        .output()
        .await
        .unwrap();
    service.shutdown().await.unwrap();
    assert_exit(&merge, 0);
    assert!(
        stdout(&merge).contains(&format!("merged {completions} shards of run {RUN_ID}")),
        "{}",
        stdout(&merge)
    );
    let merged = read_results(&results_dir.join(RUN_ID).join("merged"));
    let shards = merged.run.merged.as_ref().unwrap();
    assert_eq!(shards.count, completions);
    assert_eq!(
        shards.shards.iter().map(|s| s.index).collect::<Vec<_>>(),
        (0..completions).collect::<Vec<_>>()
    );
    assert_eq!(
        merged.scenario.stages[1].to_users, 16,
        "every shard's users"
    );
    assert!(merged.verdict.passed, "{:?}", merged.budgets);
}
