use super::*;

fn request(signer: &Signer, method: Method, target: &str, body: &[u8]) -> (Uri, HeaderMap) {
    let uri: Uri = target.parse().expect("uri");
    let mut headers = HeaderMap::new();
    signer
        .sign_headers(&mut headers, &method, &uri, &content_hash(body))
        .expect("sign");
    (uri, headers)
}

fn secrets() -> (Secret, Secret) {
    (Secret::generate(), Secret::generate())
}

#[test]
fn signed_request_verifies_with_its_role_and_body() {
    let (cluster, admin) = secrets();
    let verifier = Verifier::new()
        .accept(Role::Service, &cluster)
        .accept(Role::Admin, &admin);
    for (signer, role) in [
        (Signer::new(Role::Service, &cluster), Role::Service),
        (Signer::new(Role::Admin, &admin), Role::Admin),
    ] {
        let (uri, headers) = request(&signer, Method::POST, "/v1/keys/list?x=1", b"{}");
        let ok = verifier
            .verify(&Method::POST, &uri, &headers, true)
            .expect("verified");
        assert_eq!(ok.role, role);
        ok.check_body(b"{}").expect("body");
        assert_eq!(ok.check_body(b"{ }"), Err(AuthError::ContentMismatch));
    }
}

#[test]
fn refusals() {
    let (cluster, admin) = secrets();
    let verifier = Verifier::new().accept(Role::Service, &cluster);
    let service = Signer::new(Role::Service, &cluster);
    let post = Method::POST;
    // No header.
    let uri: Uri = "/v1/x".parse().expect("uri");
    assert_eq!(
        verifier.verify(&post, &uri, &HeaderMap::new(), false).err(),
        Some(AuthError::Missing)
    );
    // A role this server does not accept.
    let (uri, headers) = request(
        &Signer::new(Role::Admin, &admin),
        post.clone(),
        "/v1/x",
        b"",
    );
    assert_eq!(
        verifier.verify(&post, &uri, &headers, false).err(),
        Some(AuthError::RoleNotAccepted(Role::Admin))
    );
    // The right role with another secret.
    let (uri, headers) = request(
        &Signer::new(Role::Service, &Secret::generate()),
        post.clone(),
        "/v1/x",
        b"",
    );
    assert_eq!(
        verifier.verify(&post, &uri, &headers, false).err(),
        Some(AuthError::BadSignature(Role::Service))
    );
    // A signature taken to another path, method, or content.
    let (_, headers) = request(&service, post.clone(), "/v1/x", b"");
    let other: Uri = "/v1/y".parse().expect("uri");
    assert!(matches!(
        verifier.verify(&post, &other, &headers, false),
        Err(AuthError::BadSignature(_))
    ));
    assert!(matches!(
        verifier.verify(&Method::DELETE, &uri, &headers, false),
        Err(AuthError::BadSignature(_))
    ));
    let mut changed = headers.clone();
    changed.insert(CONTENT_HEADER, http::HeaderValue::from_static("00"));
    assert!(matches!(
        verifier.verify(&post, &uri, &changed, false),
        Err(AuthError::BadSignature(_))
    ));
    // Garbage.
    let mut bad = HeaderMap::new();
    bad.insert(
        AUTH_HEADER,
        http::HeaderValue::from_static("v1 service 1 2"),
    );
    assert!(matches!(
        verifier.verify(&post, &uri, &bad, false),
        Err(AuthError::Malformed(_))
    ));
    bad.insert(
        AUTH_HEADER,
        http::HeaderValue::from_static("v1 root 1 00000000000000000000000000000000 00"),
    );
    assert!(matches!(
        verifier.verify(&post, &uri, &bad, false),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn window_and_replay() {
    let cluster = Secret::generate();
    let verifier = Verifier::new().accept(Role::Service, &cluster);
    let signer = Signer::new(Role::Service, &cluster);
    let uri: Uri = "/v1/chunk/abc".parse().expect("uri");
    let at = |ts: i64| {
        let mut h = HeaderMap::new();
        let v = signer.sign_at(ts, "DELETE", "/v1/chunk/abc", "");
        h.insert(AUTH_HEADER, http::HeaderValue::from_str(&v).expect("value"));
        h
    };
    let now = now_ms();
    let window = WINDOW.as_millis() as i64;
    for skew in [-window - 1000, window + 1000] {
        assert!(matches!(
            verifier.verify(&Method::DELETE, &uri, &at(now + skew), true),
            Err(AuthError::Stale { .. })
        ));
    }
    let h = at(now - 5000);
    verifier
        .verify(&Method::DELETE, &uri, &h, true)
        .expect("first time");
    assert_eq!(
        verifier.verify(&Method::DELETE, &uri, &h, true).err(),
        Some(AuthError::Replayed)
    );
    // A read may be repeated.
    verifier
        .verify(&Method::DELETE, &uri, &h, false)
        .expect("not once");
}

#[test]
fn seen_nonces_are_forgotten_after_the_window() {
    let mut seen = Seen::default();
    let w = WINDOW.as_millis() as i64;
    assert!(seen.insert(1_000_000, 1_000_000, 7));
    assert!(!seen.insert(1_000_001, 1_000_000, 7));
    // Past the window the entry goes (its timestamp is refused by then anyway).
    assert!(seen.insert(1_000_000 + w + 1, 1_000_000 + w, 8));
    assert_eq!(seen.set.len(), 1);
}

#[test]
fn trailer_mac_is_chained_to_the_request() {
    let cluster = Secret::generate();
    let verifier = Verifier::new().accept(Role::Service, &cluster);
    let signer = Signer::new(Role::Service, &cluster);
    let uri: Uri = "/v1/chunk/abc".parse().expect("uri");
    let mut headers = HeaderMap::new();
    signer
        .sign_headers(&mut headers, &Method::PUT, &uri, TRAILER_CONTENT)
        .expect("sign");
    let auth = headers[AUTH_HEADER].to_str().expect("ascii").to_string();
    let ok = verifier
        .verify(&Method::PUT, &uri, &headers, true)
        .expect("verified");
    assert_eq!(ok.content, TRAILER_CONTENT);
    let hash = content_hash(b"data");
    ok.check_trailer(&hash, &signer.trailer_mac(&auth, &hash))
        .expect("trailer");
    let other = content_hash(b"other");
    assert_eq!(
        ok.check_trailer(&other, &signer.trailer_mac(&auth, &hash)),
        Err(AuthError::ContentMismatch)
    );
    // A MAC made for another request does not fit.
    let another = signer.sign("PUT", "/v1/chunk/abc", TRAILER_CONTENT);
    assert_eq!(
        ok.check_trailer(&hash, &signer.trailer_mac(&another, &hash)),
        Err(AuthError::ContentMismatch)
    );
}

#[test]
fn secret_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cluster.key");
    let made = Secret::load_or_create(&path).expect("created");
    assert_eq!(Secret::load(&path).expect("loaded"), made);
    assert_eq!(Secret::load_or_create(&path).expect("again"), made);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(dir.path().join("bad"), "xyz").expect("write");
    let e = Secret::load(&dir.path().join("bad")).expect_err("bad");
    assert!(e.to_string().contains("64 hex digits"), "{e}");
    assert!(format!("{made:?}").contains(".."));
    // Role keys differ from each other and from the secret.
    let keys: HashSet<[u8; 32]> = Role::ALL.into_iter().map(|r| made.key(r)).collect();
    assert_eq!(keys.len(), 3);
    assert!(!keys.contains(&made.0));
}
