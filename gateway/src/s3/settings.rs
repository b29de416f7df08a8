//! Bucket sub-resources kept as one typed container setting each (CORS, tagging, lifecycle,
//! policy, public access block, object lock configuration): one generic get, put and delete.
//!
//! A sub-resource is a marker type implementing [`BucketSetting`] (where its value lives in
//! `ContainerProps`, how to change it, what S3 answers when it is unset), plus [`FromInput`]
//! for its Put operation and [`ToOutput`] for its Get. Who may call the operation is decided
//! before (`operations`); the handlers here only move the value. Adding one: the setting in
//! `meta_api::settings`, a marker with these impls in the feature's module, and three lines per
//! operation in `mod.rs` calling [`get`], [`put`] and [`delete`].

use meta_api::settings::{ContainerProps, SettingChange};
use s3s::{S3Error, S3Request, S3Response, S3Result};

use super::access::{Access, granted};
use super::error::s3err;
use super::service::SpreadS3;

/// One bucket sub-resource stored as one container setting.
pub trait BucketSetting {
    type Value;

    /// The setting in a container's settings, if set.
    fn read(props: &ContainerProps) -> Option<&Self::Value>;

    /// The change that sets (`Some`) or removes (`None`) it.
    fn change(value: Option<Self::Value>) -> SettingChange;

    /// The error of a Get when it is not set.
    fn missing() -> S3Error;
}

/// Its value from the Put operation's input `I` (checked as S3 checks it).
pub trait FromInput<I>: BucketSetting {
    fn from_input(access: &Access, input: I) -> S3Result<Self::Value>;
}

/// The Get operation's output `O` for its value.
pub trait ToOutput<O>: BucketSetting {
    fn to_output(access: &Access, value: &Self::Value) -> S3Result<O>;
}

/// Put{Setting}: stores the value the input gives.
pub async fn put<S, I, O>(s3: &SpreadS3, mut req: S3Request<I>) -> S3Result<S3Response<O>>
where
    S: FromInput<I>,
    O: Default,
{
    let access: Access = granted(&mut req)?;
    let value = S::from_input(&access, req.input)?;
    change::<S>(s3, &access, Some(value)).await?;
    Ok(S3Response::new(O::default()))
}

/// Get{Setting}: the stored value, or the setting's "not set" error.
pub async fn get<S, I, O>(mut req: S3Request<I>) -> S3Result<S3Response<O>>
where
    S: ToOutput<O>,
{
    let access: Access = granted(&mut req)?;
    let value = S::read(&access.container.settings.props).ok_or_else(S::missing)?;
    Ok(S3Response::new(S::to_output(&access, value)?))
}

/// Delete{Setting}: removes it (204, also when it was not set, as S3 answers).
pub async fn delete<S, I, O>(s3: &SpreadS3, mut req: S3Request<I>) -> S3Result<S3Response<O>>
where
    S: BucketSetting,
    O: Default,
{
    let access: Access = granted(&mut req)?;
    change::<S>(s3, &access, None).await?;
    let mut resp = S3Response::new(O::default());
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

async fn change<S: BucketSetting>(
    s3: &SpreadS3,
    access: &Access,
    value: Option<S::Value>,
) -> S3Result<()> {
    s3.svc
        .meta()
        .set_container_settings(&access.container.name, vec![S::change(value)])
        .await
        .map_err(s3err)?;
    Ok(())
}
