//! A dependent of this project's crates, built outside the workspace with
//! default features and the newest thiserror: in a throwaway network
//! namespace it creates an ipset set (`ipset-nl`) and an nf_tables table
//! (`nftables-glue`) through the async API, reads both back, checks them and
//! exits 0; any failure exits 1 and says what failed. Needs root
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
        Ok(())
    })
}
