//! A bare goose load test of one `GET PATH`, with goose's own metrics and
//! nothing of loadgate's: the peer `loadgen.sh` measures loadgate against.
//!
//! Usage: `goose_get HOST PATH USERS SECONDS`, e.g.
//! `goose_get http://127.0.0.1:8089 /json 32 10`; prints
//! `RESULT rps=N requests=N errors=N` (requests and errors after the launch).

use std::sync::OnceLock;

use goose::{config::GooseConfiguration, prelude::*};

/// The path every user requests; set once, before the attack starts.
static PATH: OnceLock<String> = OnceLock::new();

async fn get_path(user: &mut GooseUser) -> TransactionResult {
    let path = PATH.get().map_or("/", String::as_str);
    let _ = user.get(path).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, path, users, seconds] = args.as_slice() else {
        eprintln!("usage: goose_get HOST PATH USERS SECONDS");
        std::process::exit(2);
    };
    PATH.set(path.clone()).expect("PATH is set once");
    let mut config = GooseConfiguration::default();
    config.host = Some(host.clone());
    config.users = users.parse().ok();
    // Every user at once (within ~10 ms), as wrk opens every connection at
    // once; goose counts only what follows the launch.
    let users_per_s = users.parse::<usize>().unwrap_or(1) * 100;
    config.increase_rate = Some(users_per_s.to_string());
    config.run_time = Some(format!("{seconds}s"));
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_telnet = true;
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("get").register_transaction(transaction!(get_path)))
        .execute()
        .await?;
    let errors: usize = metrics.requests.values().map(|r| r.fail_count).sum();
    let requests: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    // Goose resets its metrics once every user is launched, so this is the
    // steady run time in whole seconds.
    let rps = requests as f64 / metrics.duration.max(1) as f64;
    println!("RESULT rps={rps:.0} requests={requests} errors={errors}");
    Ok(())
}
