//! Verified download against an HTTP server on 127.0.0.1 that the test starts.

#![cfg(feature = "download")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use fsl_datasets::Error;
use fsl_datasets::omniglot::{self, OmniglotArchive, download_archive, download_verified, locate_or_download};

use common::{folder_names, omniglot_archive};

const SMALL1: OmniglotArchive = OmniglotArchive::BackgroundSmall1;

/// A file the server returns: path, status and body.
struct Route {
    path: String,
    status: u16,
    body: Vec<u8>,
}

/// Serves exactly `requests` requests, then stops; the handle returns the requested paths.
fn serve(routes: Vec<Route>, requests: usize) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());

    let handle = std::thread::spawn(move || {
        let mut requested = Vec::new();
        for _ in 0..requests {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" || header.is_empty() {
                    break;
                }
            }

            let (status, body) = match routes.iter().find(|route| route.path == path) {
                Some(route) => (route.status, route.body.clone()),
                None => (404, b"not found".to_vec()),
            };
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} Status\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body).unwrap();
            requested.push(path);
        }
        requested
    });

    (base_url, handle)
}

fn small1_bytes() -> Vec<u8> {
    std::fs::read(omniglot_archive(SMALL1.file_name())).unwrap()
}

fn small1_route(body: Vec<u8>) -> Route {
    Route {
        path: format!("/omniglot/{}", SMALL1.file_name()),
        status: 200,
        body,
    }
}

#[test]
fn archive_downloads_and_verifies() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route(bytes.clone())], 1);
    let cache = tempfile::tempdir().unwrap();

    let path = download_archive(SMALL1, &format!("{base_url}/omniglot/"), cache.path()).unwrap();

    assert_eq!(path, cache.path().join(SMALL1.file_name()));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(folder_names(cache.path()), [SMALL1.file_name()]);
    assert_eq!(server.join().unwrap().len(), 1);
    assert_eq!(omniglot::load(&path).unwrap().num_rows(), 2720);
}

#[test]
fn checksum_mismatch_leaves_no_file() {
    let (base_url, server) = serve(vec![small1_route(b"tampered archive".to_vec())], 1);
    let cache = tempfile::tempdir().unwrap();

    let error = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path()).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{message}");
    assert!(message.contains(SMALL1.sha256().unwrap()), "{message}");
    // sha256("tampered archive"), computed with `printf 'tampered archive' | sha256sum`.
    assert!(
        message.contains("b0d31a0d1df6af466705489f0797ce6c3c2361ddf571f421fb18c4e1fe0311b7"),
        "{message}"
    );
    assert_eq!(folder_names(cache.path()), Vec::<String>::new());
    server.join().unwrap();
}

#[test]
fn custom_digest_is_checked() {
    let body = b"a small generated file".to_vec();
    let routes = vec![
        Route {
            path: "/file.bin".to_owned(),
            status: 200,
            body: body.clone(),
        },
        Route {
            path: "/file.bin?again".to_owned(),
            status: 200,
            body: body.clone(),
        },
    ];
    let (base_url, server) = serve(routes, 2);
    let folder = tempfile::tempdir().unwrap();
    let dest = folder.path().join("nested").join("file.bin");
    // Computed with `printf 'a small generated file' | sha256sum`.
    let digest = "54ef9c0ffed6069eebce908f3ce99867c7ab648a99dc6a28b956e26019867c18";

    let path = download_verified(&format!("{base_url}/file.bin"), digest, &dest).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);

    let wrong = "0".repeat(64);
    let error = download_verified(&format!("{base_url}/file.bin?again"), &wrong, &dest).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::ChecksumMismatch { .. }), "{message}");
    assert!(message.contains(&wrong), "{message}");
    assert!(message.contains(digest), "{message}");
    // The failed download neither replaced nor removed the earlier file.
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(folder_names(&folder.path().join("nested")), ["file.bin"]);
    server.join().unwrap();
}

#[test]
fn invalid_digest_is_rejected_before_request() {
    let folder = tempfile::tempdir().unwrap();

    let error = download_verified("http://127.0.0.1:9/x", "abc", &folder.path().join("x")).unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
}

#[test]
fn http_error_names_url_and_status() {
    let (base_url, server) = serve(Vec::new(), 1);
    let cache = tempfile::tempdir().unwrap();

    let error = download_archive(SMALL1, &base_url, cache.path()).unwrap_err();

    let url = format!("{base_url}/{}", SMALL1.file_name());
    assert!(
        matches!(&error, Error::HttpStatus { url: failed, status: 404 } if *failed == url),
        "{error}"
    );
    assert!(error.to_string().contains(&url), "{error}");
    assert!(error.to_string().contains("404"), "{error}");
    assert_eq!(folder_names(cache.path()), Vec::<String>::new());
    server.join().unwrap();
}

#[test]
fn refused_connection_names_url() {
    // Bind and drop a listener to get a local port that nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cache = tempfile::tempdir().unwrap();
    let base_url = format!("http://127.0.0.1:{port}");

    let error = download_archive(SMALL1, &base_url, cache.path()).unwrap_err();

    assert!(matches!(error, Error::Http { .. }), "{error}");
    assert!(error.to_string().contains(&base_url), "{error}");
    assert_eq!(folder_names(cache.path()), Vec::<String>::new());
}

#[test]
fn locate_prefers_data_dir_then_valid_cache() {
    let data_dir = omniglot_archive(SMALL1.file_name()).parent().unwrap().to_owned();
    let cache = tempfile::tempdir().unwrap();
    // No server: any download attempt would fail with a refused connection.
    let unused = "http://127.0.0.1:9";

    let found = locate_or_download(SMALL1, Some(&data_dir), cache.path(), unused).unwrap();
    assert_eq!(found, data_dir.join(SMALL1.file_name()));

    std::fs::write(cache.path().join(SMALL1.file_name()), small1_bytes()).unwrap();
    let cached = locate_or_download(SMALL1, None, cache.path(), unused).unwrap();
    assert_eq!(cached, cache.path().join(SMALL1.file_name()));
}

#[test]
fn locate_replaces_corrupt_cache() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route(bytes.clone())], 1);
    let cache = tempfile::tempdir().unwrap();
    let cached = cache.path().join(SMALL1.file_name());
    std::fs::write(&cached, b"half a download").unwrap();

    let path = locate_or_download(SMALL1, None, cache.path(), &format!("{base_url}/omniglot")).unwrap();

    assert_eq!(path, cached);
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    assert_eq!(server.join().unwrap(), [format!("/omniglot/{}", SMALL1.file_name())]);
}
