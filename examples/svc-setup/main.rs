//! `svc-setup`: the seeds' `ipvs.sh` as a typed, idempotent program.
//!
//! Reads keepalived's configuration (`include` globs, `virtual_server` and
//! `real_server` blocks) and makes the kernel match it: each VIP as /32
//! (/128) on a dummy interface (default `svc`, up) unless already local, the
//! cluster-IP ipset (`VIP,proto:port`), the service NAT chains and the
//! sysctls; removes VIPs and set entries the configuration no longer names;
//! with `--ipvs` also the IPVS services and destinations. Prints what it
//! changed, or "no changes". Configuration errors name file and line and
//! change nothing. See `--help`.
//!
//! With `--dataplane nftables` the same services are an nf_tables DNAT
//! table instead of IPVS (`clusterip::svc::Dataplane`).
//!
//! With `--watch` it stays: the configuration's health checks keep IPVS
//! (or the DNAT table) in line, SIGHUP or a changed file reloads, SIGTERM/SIGINT stops
//! (`clusterip::agent`).
//!
//! The argument parser is `cli.rs`; the plan and its application are
//! `clusterip::svc`, the daemon `clusterip::agent`; this file wires them
//! and prints.

mod cli;
mod reload;

use std::process::ExitCode;

use clusterip::keepalived::Config;
use clusterip::netlink::Netns;
use clusterip::svc::{Desired, Options, Setup};
use clusterip::sync::Graceful;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Parsed::Run(a)) => a,
        Ok(cli::Parsed::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("svc-setup: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("svc-setup: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &cli::Args) -> Result<(), Box<dyn std::error::Error>> {
    let opts = Options {
        interface: a.interface.clone(),
        ipset: a.ipset.clone(),
        ipset6: a.ipset6.clone(),
        nat_table: a.nat_table.clone(),
        nat_prefix: a.nat_prefix.clone(),
        mark: a.mark,
        ipvs: a.ipvs,
        graceful: if a.no_drain {
            Graceful::Off
        } else {
            Graceful::All
        },
        dataplane: a.dataplane,
        dnat_table: a.dnat_table.clone(),
    };
    if a.watch {
        return watch(a, opts);
    }
    // Everything about the configuration is checked before the kernel is
    // touched: an error here changes nothing.
    let cfg = Config::load(&a.config)?;
    let desired = Desired::from_config(&cfg, &opts)?;
    if a.check {
        println!(
            "{}: {} file(s), {} virtual server(s), {} VIP(s), {} ipset member(s): OK",
            a.config.display(),
            cfg.files.len(),
            desired.services.len(),
            desired.vips.len(),
            desired.members.len() + desired.members_v6.len()
        );
        for s in &desired.services {
            println!(
                "  {} {} ({} real server(s))",
                s.service.key,
                s.service.scheduler.name(),
                s.destinations.len()
            );
        }
        return Ok(());
    }
    let netns = match &a.netns {
        Some(p) => {
            Netns::from_path(p).map_err(|e| format!("network namespace {}: {e}", p.display()))?
        }
        None => Netns::current(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let setup = Setup::new(&netns, opts).await?;
        let plan = setup.plan(&desired).await?;
        for n in &plan.notes {
            println!("note: {n}");
        }
        if a.dry_run {
            for s in &plan.steps {
                println!("would: {s}");
            }
            if plan.is_empty() {
                println!("no changes");
            } else {
                println!("dry run: nothing changed");
            }
        } else {
            let done = setup.apply(&plan, &desired).await?;
            for s in &done {
                println!("changed: {s}");
            }
            if done.is_empty() {
                println!("no changes");
            }
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    if a.reload && !a.dry_run {
        let pid = reload::sighup(&a.pid_file)?;
        println!("sent SIGHUP to keepalived (pid {pid})");
    }
    Ok(())
}

/// `--watch`: the daemon ([`clusterip::agent`]) until SIGTERM or SIGINT.
fn watch(a: &cli::Args, opts: Options) -> Result<(), Box<dyn std::error::Error>> {
    use clusterip::agent::{Agent, AgentOptions, Signals};
    use std::io::Write;
    let mut ao = AgentOptions::new(&a.config);
    ao.setup = opts;
    ao.drain = !a.no_drain;
    ao.state_file = a.state_file.clone();
    if let Some(p) = &a.netns {
        ao.netns =
            Netns::from_path(p).map_err(|e| format!("network namespace {}: {e}", p.display()))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Signals first: one arriving during the setup is not lost.
        let signals = Signals::install()?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(signals.forward(tx));
        let log = Box::new(|line: &str| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        });
        let agent = Agent::start(ao, log).await?;
        agent.run(rx).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
