//! `strom-jobmanager [--config PATH] [-D key=value]... [--job local:///path/to/binary [job args]]`
//!
//! Without `--job`: a session cluster that runs the jobs submitted through the REST API. With
//! `--job`: an application cluster that runs that job and exits when it ends (0 finished, 1
//! failed or canceled). Invalid configuration exits with 2 naming the key.

use std::time::Duration;

use strom_jobmanager::{JobManager, Submission};

const USAGE: &str = "Usage: strom-jobmanager [--config PATH] [-D key=value]... [--job local:///path/to/job-binary [job arguments]]";

fn main() {
    let loaded = strom_runtime::cluster::config::start_process(USAGE, |rest| rest.is_empty() || rest[0] == "--job");
    let mut rest = loaded.rest.into_iter();
    let application = match rest.next() {
        None => None,
        Some(_job) => match rest.next() {
            Some(uri) => Some((uri, rest.collect::<Vec<_>>())),
            None => {
                eprintln!("error: --job needs local:///path/to/job-binary\n{USAGE}");
                std::process::exit(2);
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        let jm = match JobManager::start(loaded.config).await {
            Ok(jm) => jm,
            Err(e) => {
                eprintln!("error: {}", e.report());
                return 2;
            }
        };
        eprintln!("JobManager: REST API on http://{}, RPC on {}", jm.rest_address(), jm.rpc_address());
        let Some((uri, args)) = application else {
            std::future::pending::<()>().await;
            return 0;
        };
        let Some(path) = uri.strip_prefix("local://") else {
            eprintln!("error: --job takes local:///path/to/job-binary, got '{uri}'");
            return 2;
        };
        let cluster = jm.cluster.clone();
        let path = std::path::PathBuf::from(path);
        let job = match tokio::task::spawn_blocking(move || cluster.submit(&path, Submission { program_args: args, ..Default::default() }))
            .await
        {
            Ok(Ok(job)) => job,
            Ok(Err(e)) => {
                eprintln!("error: {}", e.report());
                return 2;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        eprintln!("Job {} ({}) submitted", job.id, job.name);
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let state = job.status().state;
            if state.is_terminal() {
                eprintln!("Job {} {}", job.id, state.as_str());
                return if state == strom_jobmanager::JobState::Finished { 0 } else { 1 };
            }
        }
    });
    std::process::exit(code);
}
