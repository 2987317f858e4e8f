use std::time::Duration;

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tower::ServiceExt;

use super::*;

/// A health server registered at a fresh address, not yet serving.
async fn registered() -> (Registration, LocalService, String) {
    let (registration, service, url, listener) = bound().await;
    // Held by the test's tasks for its whole run: no other test binds the address meanwhile.
    std::mem::forget(listener);
    (registration, service, url)
}

async fn bound() -> (Registration, LocalService, String, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let routes = tonic::service::Routes::new(health).prepare();
    let service = BoxCloneSyncService::new(ServiceExt::<http::Request<Body>>::map_response(
        routes,
        |r| r.map(Body::new),
    ));
    let registration = Registration::new("test-svc", addr);
    (registration, service, format!("inproc://{addr}"), listener)
}

fn client(url: &str) -> HealthClient<GrpcChannel> {
    let local = connect(url).unwrap().expect("an inproc URL");
    HealthClient::new(GrpcChannel::Local(local))
}

async fn check(client: &mut HealthClient<GrpcChannel>) -> Result<ServingStatus, tonic::Status> {
    let answer = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(answer.into_inner().status())
}

#[tokio::test]
async fn a_call_in_place_is_served_once_the_server_serves() {
    let (registration, service, url) = registered().await;
    let mut health = client(&url);
    let waiting = tokio::spawn(async move { check(&mut health).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "a call waits until the server serves"
    );
    registration.serve(service);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once serving")
        .unwrap()
        .unwrap();
    assert_eq!(status, ServingStatus::Serving);
}

#[tokio::test]
async fn a_stopped_server_answers_unavailable_and_is_gone() {
    let (registration, service, url) = registered().await;
    let mut health = client(&url);
    registration.serve(service);
    assert!(check(&mut health).await.is_ok());
    drop(registration);
    let refused = check(&mut health).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    let e = connect(&url).unwrap_err().to_string();
    assert!(e.contains("no gRPC server of this process"), "{e}");
}

#[tokio::test]
async fn a_server_that_never_served_answers_unavailable() {
    let (registration, _service, url) = registered().await;
    let mut health = client(&url);
    let waiting = tokio::spawn(async move { check(&mut health).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(registration);
    let refused = waiting.await.unwrap().unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
}

#[test]
fn other_schemes_are_not_in_place_and_bad_addresses_are_refused() {
    assert!(connect("http://127.0.0.1:50051").unwrap().is_none());
    assert!(connect("https://identity-svc:50051").unwrap().is_none());
    let e = connect("inproc://identity-svc").unwrap_err().to_string();
    assert!(e.contains("names an address"), "{e}");
}

#[test]
fn grpc_timeouts_parse_as_the_protocol_writes_them() {
    let of = |v: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-timeout", v.parse().unwrap());
        grpc_timeout(&h)
    };
    assert_eq!(of("10S"), Some(Duration::from_secs(10)));
    assert_eq!(of("1500m"), Some(Duration::from_millis(1500)));
    assert_eq!(of("2M"), Some(Duration::from_secs(120)));
    assert_eq!(of("1H"), Some(Duration::from_secs(3600)));
    assert_eq!(of("7u"), Some(Duration::from_micros(7)));
    assert_eq!(of("9n"), Some(Duration::from_nanos(9)));
    for bad in ["S", "10", "10s", "123456789S", "-1S", "1.5S"] {
        assert_eq!(of(bad), None, "{bad}");
    }
    assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
}

#[tokio::test]
async fn a_stop_waits_for_calls_in_flight_and_refuses_new_ones() {
    let (registration, service, url) = registered().await;
    // A service that answers after a while, standing for a call the server is busy with.
    let slow = BoxCloneSyncService::new(tower::service_fn(move |req: http::Request<Body>| {
        let mut inner = service.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            inner.call(req).await
        }
    }));
    registration.serve(slow);
    let mut health = client(&url);
    let mut later = health.clone();
    let in_flight = tokio::spawn(async move { check(&mut health).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(registration.stop());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !stopping.is_finished(),
        "the stop waits for the call in flight"
    );
    let refused = check(&mut later).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert_eq!(in_flight.await.unwrap().unwrap(), ServingStatus::Serving);
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the stop ends once the call is answered")
        .unwrap();
}
