//! A bare goose load test of `GET /health`, with goose's own metrics and
//! nothing of loadgate's: the peer `loadgen.sh` measures loadgate against.
//!
//! Usage: `goose_health HOST USERS SECONDS`; prints `RESULT rps=N requests=N`.

use goose::{config::GooseConfiguration, prelude::*};

async fn health(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/health").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, users, seconds] = args.as_slice() else {
        eprintln!("usage: goose_health HOST USERS SECONDS");
        std::process::exit(2);
    };
    let mut config = GooseConfiguration::default();
    config.host = Some(host.clone());
    config.users = users.parse().ok();
    // Every user at once, as wrk opens every connection at once.
    config.increase_rate = Some(users.clone());
    config.run_time = Some(format!("{seconds}s"));
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_telnet = true;
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("health").register_transaction(transaction!(health)))
        .execute()
        .await?;
    let requests: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    // Goose resets its metrics once every user is launched, so this is the
    // steady run time in whole seconds.
    let rps = requests as f64 / metrics.duration.max(1) as f64;
    println!("RESULT rps={rps:.0} requests={requests}");
    Ok(())
}
