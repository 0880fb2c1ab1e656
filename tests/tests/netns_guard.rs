//! The namespace guard removes what it made, also when the test panics.

use upf_lb_testkit::netns::{Netns, unique_name, veth};
use upf_lb_tests::require_root;

fn namespaces() -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn namespaces_are_deleted_after_a_panic() {
    require_root();
    let (a, b) = (unique_name("ga"), unique_name("gb"));
    let (a2, b2) = (a.clone(), b.clone());
    let r = std::panic::catch_unwind(move || {
        let na = Netns::create(&a2).expect("create a");
        let nb = Netns::create(&b2).expect("create b");
        veth(&na, "va", &nb, "vb").expect("veth");
        assert!(namespaces().contains(&a2) && namespaces().contains(&b2));
        // Work inside a namespace sees only its own interfaces.
        let links = na.run(|| std::fs::read_dir("/sys/class/net").map(|d| d.count()));
        assert!(links.is_ok());
        panic!("deliberate panic with the namespaces alive");
    });
    assert!(r.is_err());
    let now = namespaces();
    assert!(!now.contains(&a) && !now.contains(&b), "left behind: {now}");
}

#[test]
fn a_panic_inside_a_namespace_reaches_the_caller() {
    require_root();
    let ns = Netns::create(&unique_name("gp")).expect("create");
    let name = ns.name().to_string();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ns.run(|| panic!("inside"))));
    assert!(r.is_err());
    drop(ns);
    assert!(!namespaces().contains(&name));
}
