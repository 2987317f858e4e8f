//! One copy of tonic's unary-call machinery for every method, instead of one per method.
//!
//! tonic's generated code calls `Grpc::unary` with each method's own message types and codec,
//! so the call's encoding, framing and decoding (client side) and its request, response and
//! body handling (server side) are compiled again for each of the 100 or so methods: a fifth of
//! the gateway's code and a quarter of the platform binary's (docs/benchmarks.md, "First
//! build"). `build.rs` rewrites the generated methods to go through here instead: messages are
//! encoded to and decoded from [`Bytes`] by prost on each side, and tonic moves the bytes with
//! [`BytesCodec`], one instantiation for all methods. What a caller sees is unchanged: the same
//! frames on the wire, the same limits and compression, a message that does not decode is
//! `INTERNAL` with prost's error, as with tonic's own codec.

use bytes::{Buf as _, BufMut as _, Bytes};
use prost::Message;
use tonic::{
    Request, Response, Status,
    client::{Grpc, GrpcService},
    codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::{BoxFuture, StdError, http},
    server::UnaryService,
};

/// A codec that moves already-encoded messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

/// The buffer tonic starts each call's encoding and decoding with (it grows as a message needs):
/// 1 KiB, where tonic's codecs start with 8 KiB. The platform's messages are mostly a few hundred
/// bytes, and each call allocated four 8 KiB buffers (request and answer, on both sides) whose
/// release made the allocator hand pages back to the system and fault them in again: 4 % of the
/// all-in-one's CPU on `GET /api/v1/user` (docs/benchmarks.md, issue #21).
const BUFFER_SIZE: usize = 1024;

/// tonic's default: how much a server stream batches before yielding (unused by unary calls).
const YIELD_THRESHOLD: usize = 32 * 1024;

fn buffer_settings() -> BufferSettings {
    BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
}

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        Self
    }

    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}

/// `message` decoded as `M`; one that does not decode is `INTERNAL`, as tonic's prost codec
/// answers.
fn decode<M: Message + Default>(message: Bytes) -> Result<M, Status> {
    M::decode(message).map_err(|e| Status::internal(e.to_string()))
}

/// A client's unary call of `path` (the generated client methods call this).
pub async fn call<T, Req, Res>(
    inner: &mut Grpc<T>,
    request: Request<Req>,
    path: http::uri::PathAndQuery,
) -> Result<Response<Res>, Status>
where
    T: GrpcService<tonic::body::Body>,
    T::ResponseBody: tonic::codegen::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<StdError> + Send,
    Req: Message,
    Res: Message + Default,
{
    let request = request.map(|m| Bytes::from(m.encode_to_vec()));
    let (metadata, message, extensions) =
        inner.unary(request, path, BytesCodec).await?.into_parts();
    Ok(Response::from_parts(metadata, decode(message)?, extensions))
}

type Erased = Box<dyn FnMut(Request<Bytes>) -> BoxFuture<Response<Bytes>, Status> + Send + 'static>;

/// A server method as tonic's server sees it: bytes in, bytes out, one type for every method
/// (the generated server code wraps each method's service in one).
pub struct Unary(Erased);

impl Unary {
    /// `method`, decoding its requests and encoding its answers.
    pub fn new<S, Req, Res>(mut method: S) -> Self
    where
        S: UnaryService<Req, Response = Res> + Send + 'static,
        S::Future: Send + 'static,
        Req: Message + Default + Send + 'static,
        Res: Message + 'static,
    {
        Self(Box::new(move |request: Request<Bytes>| {
            let (metadata, extensions, message) = request.into_parts();
            let answer = decode::<Req>(message)
                .map(|m| method.call(Request::from_parts(metadata, extensions, m)));
            Box::pin(async move {
                let (metadata, message, extensions) = answer?.await?.into_parts();
                let message = Bytes::from(message.encode_to_vec());
                Ok(Response::from_parts(metadata, message, extensions))
            })
        }))
    }
}

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        (self.0)(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::identity::v1::{LoginRequest, User};

    /// A method answering with the request's email and the metadata it was called with.
    struct Echo;

    impl UnaryService<LoginRequest> for Echo {
        type Response = User;
        type Future = BoxFuture<Response<User>, Status>;

        fn call(&mut self, request: Request<LoginRequest>) -> Self::Future {
            let caller = request.metadata().get("x-caller").cloned();
            let email = request.into_inner().email;
            Box::pin(async move {
                let mut answer = Response::new(User {
                    email,
                    ..User::default()
                });
                if let Some(caller) = caller {
                    answer.metadata_mut().insert("x-caller", caller);
                }
                Ok(answer)
            })
        }
    }

    #[tokio::test]
    async fn a_method_gets_its_decoded_request_and_its_answer_goes_out_encoded() {
        let sent = LoginRequest {
            email: "a@example.com".into(),
            ..LoginRequest::default()
        };
        let mut request = Request::new(Bytes::from(sent.encode_to_vec()));
        request
            .metadata_mut()
            .insert("x-caller", "gateway".parse().unwrap());
        let answer = Unary::new(Echo).call(request).await.unwrap();
        assert_eq!(answer.metadata().get("x-caller").unwrap(), "gateway");
        let user = User::decode(answer.into_inner()).unwrap();
        assert_eq!(user.email, "a@example.com");
    }

    #[tokio::test]
    async fn a_request_that_does_not_decode_is_internal() {
        // Field 1 (email) announced as 10 bytes long, with 1.
        let garbage = Bytes::from_static(&[0x0a, 0x0a, b'a']);
        let refused = Unary::new(Echo)
            .call(Request::new(garbage))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Internal);
        assert!(
            refused.message().contains("buffer underflow"),
            "{refused:?}"
        );
    }

    /// Messages of any size, from none to many times the codec's first buffer, leave tonic's
    /// encoder in frames and come out of its decoder whole.
    #[tokio::test]
    async fn messages_larger_than_the_first_buffer_go_through_tonic_whole() {
        use tonic::codec::{EncodeBody, Streaming};
        use tonic::codegen::tokio_stream;

        for size in [0, 100, BUFFER_SIZE, 5 * BUFFER_SIZE + 3, 100 * 1024] {
            let sent = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<u8>>());
            let body = EncodeBody::new_client(
                BytesCodec,
                tokio_stream::iter([Ok(sent.clone())]),
                None,
                None,
            );
            let mut received = Streaming::new_request(BytesCodec, body, None, None);
            let message = received.message().await.unwrap().unwrap();
            assert_eq!(message, sent, "{size} bytes");
            assert!(received.message().await.unwrap().is_none());
        }
    }

    #[test]
    fn decode_reads_a_prost_message_and_an_empty_one() {
        assert_eq!(decode::<User>(Bytes::new()).unwrap(), User::default());
        let user = User {
            first_name: "Ada".into(),
            ..User::default()
        };
        assert_eq!(decode::<User>(user.encode_to_vec().into()).unwrap(), user);
    }
}
