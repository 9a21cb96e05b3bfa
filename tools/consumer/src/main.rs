//! A dependent of this project's crates, built outside the workspace with
//! default features and the newest thiserror: in a throwaway network
//! namespace it creates an ipset set (`ipset-nl`) and an nf_tables table
//! (`nftables-glue`) through the async API, then another set and table
//! through the blocking API (no runtime of its own), lists conntrack
//! (`conntrack-nl`) and syncs a set with `lb-sync`, reads everything back,
//! checks it and exits 0; any failure exits 1 and says what failed. Needs root
//! (`CAP_SYS_ADMIN` for the namespace); nothing is done outside the namespace,
//! which is gone when the program ends.

use std::process::ExitCode;
use std::time::Duration;

use ipset_nl::{CreateSet, IpPortEntry, IpProto, IpsetHandle, SetType};
use nftables_glue::{Family, NftHandle, Table, Transaction};

/// This program's own error type, derived with the newest thiserror.
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Netlink(#[from] nl_engine::Error),
    #[error("check failed: {0}")]
    Check(String),
}

fn check(ok: bool, what: impl Into<String>) -> Result<(), CheckError> {
    if ok {
        Ok(())
    } else {
        Err(CheckError::Check(what.into()))
    }
}

const SET: &str = "consumer-check";
const TABLE: &str = "consumer_check";

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("consumer check: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("consumer check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), CheckError> {
    // Offline uses of the crates that need no kernel feature of this host
    // (it has no IPVS): the umbrella's keepalived reader and ipvs-nl's types.
    let cfg = clusterip::keepalived::Config::parse_str(
        "virtual_server 169.254.11.2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 10.0.0.1 8080 { weight 1 }\n}\n",
        "keepalived.conf",
    )
    .map_err(|e| CheckError::Check(format!("keepalived reader: {e}")))?;
    check(
        cfg.virtual_servers.len() == 1,
        "keepalived reader: one virtual_server",
    )?;
    let svc = ipvs_nl::Service::tcp(
        "169.254.11.2:80"
            .parse()
            .map_err(|e| CheckError::Check(format!("{e}")))?,
    )
    .scheduler(ipvs_nl::Scheduler::RoundRobin);
    println!("ipvs-nl: {}", svc.key);

    // A throwaway network namespace; `?` turns its io::Error into
    // nl_engine::Error (From<io::Error>). Every crate re-exports Netns.
    let ns: clusterip::Netns = nl_engine::Netns::new_anonymous().map_err(nl_engine::Error::from)?;
    let _same_type: &ipset_nl::Netns = &ns;
    let _same_type: &nftables_glue::Netns = &ns;
    let _same_type: &ipvs_nl::Netns = &ns;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(nl_engine::Error::from)?;
    rt.block_on(async {
        // ipset: a hash:ip,port set with one member.
        let ipset = IpsetHandle::in_netns(&ns)?.with_timeout(Duration::from_secs(5));
        ipset.create(&CreateSet::hash_ip_port(SET), false).await?;
        let member = IpPortEntry::new(
            "169.254.11.2"
                .parse()
                .map_err(|e| CheckError::Check(format!("{e}")))?,
            IpProto::Tcp,
            80,
        );
        ipset.add(SET, &member, false).await?;
        check(
            ipset.test(SET, &member).await?,
            "ipset test: the member is in the set",
        )?;
        let sets = ipset.list(Some(SET)).await?;
        let [set] = sets.as_slice() else {
            return Err(CheckError::Check(format!(
                "ipset list {SET}: {} sets",
                sets.len()
            )));
        };
        check(
            set.name == SET && set.set_type == SetType::HashIpPort,
            format!("ipset list: {set:?}"),
        )?;
        let members = set.ip_port_members()?;
        check(
            members == [member.clone()],
            format!("ipset list: members {members:?}"),
        )?;
        println!("ipset-nl: set {SET} holds {member}");
        // The kernel's refusal comes back typed, naming the set.
        match ipset.create(&CreateSet::hash_ip_port(SET), false).await {
            Err(nl_engine::Error::Exists { context, .. }) => check(
                context.contains(SET),
                format!("Exists error names the set: {context}"),
            )?,
            other => return Err(CheckError::Check(format!("second create: {other:?}"))),
        }

        // nf_tables: one table, committed in one transaction.
        let nft = NftHandle::in_netns(&ns)?.with_timeout(Duration::from_secs(5));
        let mut tx = Transaction::new();
        tx.add_table(&Table::new(Family::Inet, TABLE));
        nft.commit(&tx).await?;
        let tables = nft.list_tables(Family::Inet).await?;
        check(
            tables
                .iter()
                .any(|t| t.name == TABLE && t.family == Family::Inet),
            format!("nft list tables: {tables:?}"),
        )?;
        println!("nftables-glue: table inet {TABLE} exists");

        // conntrack: an empty table in a fresh namespace.
        let ct = conntrack_nl::ConntrackHandle::in_netns(&ns)?;
        let entries = ct.list().await?;
        check(entries.is_empty(), format!("conntrack list: {entries:?}"))?;
        println!("conntrack-nl: {} entries", entries.len());

        // lb-sync on its own: a desired hash:ip set, created and filled,
        // then a second sync that changes nothing.
        let syncer = lb_sync::Syncer::ipset_only(IpsetHandle::in_netns(&ns)?);
        let want = lb_sync::DesiredSet::new(
            CreateSet::hash_ip("consumer-sync"),
            vec![ipset_nl::IpEntry::new(
                "10.0.0.1".parse().map_err(|e| CheckError::Check(format!("{e}")))?,
            )],
        );
        let first = syncer.sync_sets(std::slice::from_ref(&want)).await?;
        let again = syncer.sync_sets(std::slice::from_ref(&want)).await?;
        check(
            first.first().is_some_and(|r| r.created)
                && again.first().is_some_and(|r| !r.created && r.added == 0 && r.removed == 0),
            format!("lb-sync: {first:?} then {again:?}"),
        )?;
        println!("lb-sync: set consumer-sync synced, then unchanged");
        Ok::<(), CheckError>(())
    })?;
    drop(rt);

    // The blocking API, from this plain thread (no runtime).
    let ipset = ipset_nl::blocking::IpsetHandle::in_netns(&ns)?;
    ipset.create(&CreateSet::hash_ip_port("consumer-blocking"), false)?;
    let names = ipset.list_names()?;
    check(
        names.iter().any(|n| n == "consumer-blocking"),
        format!("blocking ipset list -n: {names:?}"),
    )?;
    let nft = nftables_glue::blocking::NftHandle::in_netns(&ns)?;
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "consumer_blocking"));
    nft.commit(&tx)?;
    let tables = nft.list_tables(Family::Ipv4)?;
    check(
        tables.iter().any(|t| t.name == "consumer_blocking"),
        format!("blocking nft list tables: {tables:?}"),
    )?;
    println!("blocking API: set consumer-blocking and table ip consumer_blocking exist");
    Ok(())
}
