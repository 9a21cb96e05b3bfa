//! The keepalived configuration reader on the seeds' own configuration files
//! (tests/data/keepalived, copied verbatim from the write-ups in
//! shared/seeds) and on malformed files.

use std::path::{Path, PathBuf};

use clusterip::keepalived::{Config, LbKind, Protocol, Target};

mod common;
use common::data;

/// A scratch directory under target/, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(name: &str) -> Scratch {
        let p =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn seed000_main_file_with_include_glob() {
    // The seed's main file includes /etc/keepalived/conf.d/*.conf; point that
    // at the copied conf.d so the include itself is exercised.
    let dir = Scratch::new("seed000");
    let conf_d = dir.0.join("conf.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    std::fs::copy(data("seed000/conf.d/test.conf"), conf_d.join("test.conf")).unwrap();
    std::fs::write(conf_d.join("ignored.conf.bak"), "garbage {").unwrap();
    let main = std::fs::read_to_string(data("seed000/keepalived.conf")).unwrap();
    assert!(main.contains("include /etc/keepalived/conf.d/*.conf"));
    let main = main.replace("/etc/keepalived/conf.d", conf_d.to_str().unwrap());
    std::fs::write(dir.0.join("keepalived.conf"), main).unwrap();

    let cfg = Config::load(dir.0.join("keepalived.conf")).unwrap();
    assert_eq!(cfg.files.len(), 2, "{:?}", cfg.files);
    assert_eq!(cfg.other[0].keyword, "global_defs");
    let [vs] = cfg.virtual_servers.as_slice() else {
        panic!("{cfg:#?}")
    };
    assert_eq!(
        vs.target,
        Target::Address("169.254.11.2:80".parse().unwrap())
    );
    assert_eq!(vs.protocol, Some(Protocol::Tcp));
    assert_eq!(vs.lb_algo.as_deref(), Some("rr"));
    assert_eq!(vs.lb_kind, Some(LbKind::Nat));
    assert_eq!(vs.delay_loop, Some(6));
    let rs: Vec<_> = vs
        .real_servers
        .iter()
        .map(|r| (r.address.to_string(), r.port, r.weight))
        .collect();
    assert_eq!(
        rs,
        [
            ("192.168.2.111".to_string(), Some(8080), Some(1)),
            ("192.168.2.222".to_string(), Some(8080), Some(1))
        ]
    );
    let check = &vs.real_servers[0].checks[0];
    assert_eq!(check.kind, "HTTP_GET");
    let url = check.block.child("url").unwrap();
    assert_eq!(url.child("path").unwrap().args, ["/404"]);
    assert_eq!(check.block.child("connect_port").unwrap().args, ["8080"]);
    assert_eq!(vs.real_servers[1].location.line, 22);
}

#[test]
fn seed002_full_director_config() {
    let cfg = Config::load(data("seed002/keepalived.conf")).unwrap();
    let kinds: Vec<_> = cfg.other.iter().map(|b| b.keyword.as_str()).collect();
    assert_eq!(kinds, ["global_defs", "vrrp_instance"]);
    let vrrp = &cfg.other[1];
    assert_eq!(vrrp.args, ["VI_1"]);
    assert_eq!(
        vrrp.child("virtual_ipaddress")
            .unwrap()
            .children
            .as_ref()
            .unwrap()[0]
            .keyword,
        "200.222.0.113"
    );
    let vs = &cfg.virtual_servers[0];
    assert_eq!(vs.lb_kind, Some(LbKind::Dr));
    assert_eq!(vs.persistence_timeout, Some(600));
    assert_eq!(vs.lb_algo.as_deref(), Some("wlc"));
    assert_eq!(vs.real_servers.len(), 2);
    assert_eq!(vs.real_servers[1].weight, Some(100));
    assert_eq!(vs.real_servers[1].checks[0].kind, "TCP_CHECK");
}

#[test]
fn seed003_checks_and_vrrp() {
    let tcp = Config::load(data("seed003/tcp_check.conf")).unwrap();
    assert_eq!(tcp.virtual_servers[0].persistence_timeout, Some(120));
    let http = Config::load(data("seed003/http_get.conf")).unwrap();
    assert_eq!(http.virtual_servers.len(), 2);
    assert_eq!(
        http.virtual_servers[1].target,
        Target::Address("10.255.23.74:80".parse().unwrap())
    );
    let vrrp = Config::load(data("seed003/vrrp.conf")).unwrap();
    assert!(vrrp.virtual_servers.is_empty());
    assert_eq!(vrrp.other.len(), 2);
}

#[test]
fn malformed_files_name_file_and_line() {
    let dir = Scratch::new("bad");
    let cases: &[(&str, &str, usize)] = &[
        (
            "virtual_server 169.254.11.2 80 {\n  protocol TCP\n  real_server 10.0.0.1 8080 {\n    weight x\n  }\n}\n",
            "\"x\" is not a valid number",
            4,
        ),
        (
            "virtual_server 169.254.11.300 80 {\n}\n",
            "is not an IP address",
            1,
        ),
        (
            "virtual_server 169.254.11.2 80 {\n  lb_kind NAT\n",
            "'{' is never closed",
            1,
        ),
        ("global_defs {\n}\n}\n", "'}' without a matching '{'", 3),
        (
            "virtual_server 10.0.0.1 80 {\n  protocol ICMP\n}\n",
            "unknown protocol",
            2,
        ),
        (
            "virtual_server 10.0.0.1 80 {\n  persistence_timeout 1 2\n}\n",
            "takes one value",
            2,
        ),
        ("include\n", "include takes exactly one file pattern", 1),
        (
            "include /nonexistent/dir/file.conf\n",
            "cannot read /nonexistent/dir/file.conf",
            1,
        ),
        ("virtual_server group G {\n}\n", "not supported", 1),
    ];
    for (i, (text, want, line)) in cases.iter().enumerate() {
        let f = dir.0.join(format!("bad{i}.conf"));
        std::fs::write(&f, text).unwrap();
        let e = Config::load(&f).unwrap_err();
        assert!(e.to_string().contains(want), "case {i}: {e}");
        assert_eq!(e.location.line, *line, "case {i}: {e}");
        assert_eq!(e.location.file, f, "case {i}: {e}");
    }
    // An error inside an included file names that file.
    let inc = dir.0.join("inc");
    std::fs::create_dir_all(&inc).unwrap();
    std::fs::write(
        inc.join("a.conf"),
        "virtual_server 10.0.0.1 80 {\n  lb_kind XYZ\n}\n",
    )
    .unwrap();
    std::fs::write(dir.0.join("main.conf"), "include inc/*.conf\n").unwrap();
    let e = Config::load(dir.0.join("main.conf")).unwrap_err();
    assert_eq!(e.location.file, inc.join("a.conf"));
    assert_eq!(e.location.line, 2);
    // An include loop is an error, not a stack overflow.
    std::fs::write(dir.0.join("loop.conf"), "include loop.conf\n").unwrap();
    let e = Config::load(dir.0.join("loop.conf")).unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
}
