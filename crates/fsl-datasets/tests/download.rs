//! Verified download against an HTTP server on 127.0.0.1 that the test starts.

#![cfg(feature = "download")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use fsl_datasets::Error;
use fsl_datasets::omniglot::{
    self, Checksum, DownloadOptions, OmniglotArchive, download_archive, download_file, download_verified,
    locate_or_download, md5_file,
};

use common::{folder_names, omniglot_archive};

const SMALL1: OmniglotArchive = OmniglotArchive::BackgroundSmall1;

/// How the server responds to a request for a route.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// The status and whole body, ignoring any `Range` header, as servers without range
    /// support do.
    Whole,
    /// 206 with the requested range for `Range: bytes=<start>-`, 416 when the start is at or
    /// past the end, and 200 with the whole body without a `Range` header.
    Ranges,
    /// A `Content-Length` for the whole body, then only this many bytes before closing.
    CutAfter(usize),
}

/// A file the server returns: path, status and body.
struct Route {
    path: String,
    status: u16,
    body: Vec<u8>,
    behaviour: Behaviour,
}

/// A request the server received: its path and `Range` header.
#[derive(Debug, PartialEq)]
struct Request {
    path: String,
    range: Option<String>,
}

/// Serves exactly `requests` requests, then stops; the handle returns the requests.
fn serve(routes: Vec<Route>, requests: usize) -> (String, JoinHandle<Vec<Request>>) {
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
            let mut range = None;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" || header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("range")
                {
                    range = Some(value.trim().to_owned());
                }
            }

            let (status, headers, body, length) = match routes.iter().find(|route| route.path == path) {
                Some(route) => respond(route, range.as_deref()),
                None => (404, String::new(), b"not found".to_vec(), 9),
            };
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} Status\r\nContent-Length: {length}\r\n{headers}Connection: close\r\n\r\n"
            )
            .unwrap();
            stream.write_all(&body).unwrap();
            requested.push(Request { path, range });
        }
        requested
    });

    (base_url, handle)
}

/// Returns the status, extra header lines, body bytes and `Content-Length` to send for `route`.
fn respond(route: &Route, range: Option<&str>) -> (u16, String, Vec<u8>, usize) {
    let total = route.body.len();
    match (route.behaviour, range) {
        (Behaviour::Ranges, Some(range)) => {
            let start: usize = range
                .strip_prefix("bytes=")
                .and_then(|rest| rest.strip_suffix('-'))
                .and_then(|start| start.parse().ok())
                .expect("the client sends bytes=<start>-");
            if start >= total {
                return (416, format!("Content-Range: bytes */{total}\r\n"), Vec::new(), 0);
            }
            let header = format!("Content-Range: bytes {start}-{}/{total}\r\n", total - 1);
            (206, header, route.body[start..].to_vec(), total - start)
        }
        (Behaviour::CutAfter(sent), _) => (route.status, String::new(), route.body[..sent].to_vec(), total),
        _ => (route.status, String::new(), route.body.clone(), total),
    }
}

fn quiet() -> DownloadOptions {
    DownloadOptions::new().with_progress(false)
}

fn part_name() -> String {
    format!("{}.part", SMALL1.file_name())
}

fn small1_bytes() -> Vec<u8> {
    std::fs::read(omniglot_archive(SMALL1.file_name())).unwrap()
}

fn small1_route(body: Vec<u8>) -> Route {
    small1_route_with(body, Behaviour::Whole)
}

fn small1_route_with(body: Vec<u8>, behaviour: Behaviour) -> Route {
    Route {
        path: format!("/omniglot/{}", SMALL1.file_name()),
        status: 200,
        body,
        behaviour,
    }
}

#[test]
fn archive_downloads_and_verifies() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route(bytes.clone())], 1);
    let cache = tempfile::tempdir().unwrap();

    let path = download_archive(SMALL1, &format!("{base_url}/omniglot/"), cache.path(), &quiet()).unwrap();

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

    let error = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path(), &quiet()).unwrap_err();

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
            behaviour: Behaviour::Whole,
        },
        Route {
            path: "/file.bin?again".to_owned(),
            status: 200,
            body: body.clone(),
            behaviour: Behaviour::Whole,
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

    let error = download_archive(SMALL1, &base_url, cache.path(), &quiet()).unwrap_err();

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

    let error = download_archive(SMALL1, &base_url, cache.path(), &quiet()).unwrap_err();

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
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/omniglot/{}", SMALL1.file_name()));
}

#[test]
fn partial_file_resumes_with_range() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route_with(bytes.clone(), Behaviour::Ranges)], 1);
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join(part_name()), &bytes[..1000]).unwrap();

    let path = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path(), &quiet()).unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(folder_names(cache.path()), [SMALL1.file_name()]);
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].range.as_deref(), Some("bytes=1000-"));
}

#[test]
fn interrupted_download_resumes_next_call() {
    let bytes = small1_bytes();
    let half = bytes.len() / 2;
    let (first_url, first) = serve(vec![small1_route_with(bytes.clone(), Behaviour::CutAfter(half))], 1);
    let cache = tempfile::tempdir().unwrap();

    let error = download_archive(SMALL1, &format!("{first_url}/omniglot"), cache.path(), &quiet()).unwrap_err();

    assert!(matches!(error, Error::Http { .. }), "{error}");
    assert_eq!(folder_names(cache.path()), [part_name()]);
    assert_eq!(std::fs::read(cache.path().join(part_name())).unwrap(), bytes[..half]);
    first.join().unwrap();

    let (second_url, second) = serve(vec![small1_route_with(bytes.clone(), Behaviour::Ranges)], 1);
    let path = download_archive(SMALL1, &format!("{second_url}/omniglot"), cache.path(), &quiet()).unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(folder_names(cache.path()), [SMALL1.file_name()]);
    assert_eq!(second.join().unwrap()[0].range, Some(format!("bytes={half}-")));
}

#[test]
fn server_ignoring_range_restarts_cleanly() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route_with(bytes.clone(), Behaviour::Whole)], 1);
    let cache = tempfile::tempdir().unwrap();
    // Appending the whole body to these bytes would fail the checksum.
    std::fs::write(cache.path().join(part_name()), b"stale bytes of an older attempt").unwrap();

    let path = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path(), &quiet()).unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(folder_names(cache.path()), [SMALL1.file_name()]);
    assert_eq!(server.join().unwrap()[0].range.as_deref(), Some("bytes=31-"));
}

#[test]
fn unsatisfiable_range_downloads_again() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route_with(bytes.clone(), Behaviour::Ranges)], 2);
    let cache = tempfile::tempdir().unwrap();
    // A partial file as long as the archive makes the range start at the end.
    std::fs::write(cache.path().join(part_name()), vec![0u8; bytes.len()]).unwrap();

    let path = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path(), &quiet()).unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let requests = server.join().unwrap();
    assert_eq!(requests[0].range, Some(format!("bytes={}-", bytes.len())));
    assert_eq!(requests[1].range, None);
}

#[test]
fn checksum_mismatch_after_resume_removes_part() {
    let bytes = small1_bytes();
    let (base_url, server) = serve(vec![small1_route_with(bytes.clone(), Behaviour::Ranges)], 1);
    let cache = tempfile::tempdir().unwrap();
    // The right length but wrong bytes: the resumed file cannot match the digest.
    std::fs::write(cache.path().join(part_name()), vec![0u8; 1000]).unwrap();

    let error = download_archive(SMALL1, &format!("{base_url}/omniglot"), cache.path(), &quiet()).unwrap_err();

    assert!(
        matches!(
            error,
            Error::ChecksumMismatch {
                algorithm: "sha256",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(folder_names(cache.path()), Vec::<String>::new());
    server.join().unwrap();
}

#[test]
fn server_error_keeps_partial_file() {
    let route = Route {
        path: format!("/{}", SMALL1.file_name()),
        status: 500,
        body: b"internal error".to_vec(),
        behaviour: Behaviour::Whole,
    };
    let (base_url, server) = serve(vec![route], 1);
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join(part_name()), b"first bytes").unwrap();

    let error = download_archive(SMALL1, &base_url, cache.path(), &quiet()).unwrap_err();

    assert!(matches!(error, Error::HttpStatus { status: 500, .. }), "{error}");
    assert!(error.to_string().contains("500"), "{error}");
    assert_eq!(folder_names(cache.path()), [part_name()]);
    assert_eq!(std::fs::read(cache.path().join(part_name())).unwrap(), b"first bytes");
    server.join().unwrap();
}

#[test]
fn md5_checksum_is_verified() {
    let body = b"a small generated file".to_vec();
    let routes = vec![Route {
        path: "/file.bin".to_owned(),
        status: 200,
        body: body.clone(),
        behaviour: Behaviour::Whole,
    }];
    let (base_url, server) = serve(routes, 2);
    let folder = tempfile::tempdir().unwrap();
    let url = format!("{base_url}/file.bin");
    // Computed with `printf 'a small generated file' | md5sum`.
    let digest = "6046428dfe9fd033cfada49e6b468828";

    let wrong = Checksum::Md5("0".repeat(32));
    let error = download_file(&url, Some(&wrong), &folder.path().join("file.bin"), &quiet()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::ChecksumMismatch { algorithm: "md5", .. }),
        "{message}"
    );
    assert!(message.contains(digest), "{message}");
    assert_eq!(folder_names(folder.path()), Vec::<String>::new());

    let right = Checksum::Md5(digest.to_uppercase());
    let path = download_file(&url, Some(&right), &folder.path().join("file.bin"), &quiet()).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    server.join().unwrap();
}

#[test]
fn short_md5_is_rejected_before_request() {
    let folder = tempfile::tempdir().unwrap();
    let checksum = Checksum::Md5("abc".to_owned());

    let error = download_file(
        "http://127.0.0.1:9/x",
        Some(&checksum),
        &folder.path().join("x"),
        &quiet(),
    )
    .unwrap_err();

    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert!(error.to_string().contains("32 hex digits"), "{error}");
}

#[test]
fn full_archives_are_checked_with_published_md5() {
    assert_eq!(
        OmniglotArchive::Background.checksum(),
        Checksum::Md5("68d2efa1b9178cc56df9314c21c6e718".to_owned())
    );
    assert_eq!(
        OmniglotArchive::Evaluation.checksum(),
        Checksum::Md5("6b91aef0f799c5bb55b94e3f2daec811".to_owned())
    );
    assert_eq!(SMALL1.checksum(), Checksum::Sha256(SMALL1.sha256().unwrap().to_owned()));
}

#[test]
fn recorded_md5_matches_small_archives() {
    for archive in [OmniglotArchive::BackgroundSmall1, OmniglotArchive::BackgroundSmall2] {
        let digest = md5_file(&omniglot_archive(archive.file_name())).unwrap();
        assert_eq!(digest, archive.md5(), "{archive:?}");
    }
}
