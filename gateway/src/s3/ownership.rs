//! S3 Object Ownership: the bucket's typed `ownership` setting, its Get/Put/Delete
//! BucketOwnershipControls operations (through `settings`), `x-amz-object-ownership` on
//! CreateBucket, and what it changes for ACLs.
//!
//! Without the setting (Spread's default, unlike AWS's since 2023) ACLs apply and an object
//! belongs to its writer. `BucketOwnerPreferred`: an object written with the
//! `bucket-owner-full-control` canned ACL belongs to the bucket owner. `BucketOwnerEnforced`:
//! ACLs are off, as AWS turns them off — every object belongs to the bucket owner, the ACLs
//! read back are the owner's private one, the stored ACLs are not consulted (access is by
//! the owner and the bucket policy), and a request that sets an ACL other than the owner's
//! full control is refused with AccessControlListNotSupported.

use meta_api::settings::{ContainerProps, ObjectOwnership, SettingChange};
use s3s::dto::{
    GetBucketOwnershipControlsOutput, OwnershipControls, OwnershipControlsRule,
    PutBucketOwnershipControlsInput,
};
use s3s::{S3Error, S3Result, s3_error};

use super::access::Access;
use super::acl::{acl_with_enforced, owner_only, parse_ownership};
use super::settings::{BucketSetting, FromInput, ToOutput};

/// The bucket's ownership controls, as a bucket setting.
pub struct BucketOwnership;

impl BucketSetting for BucketOwnership {
    type Value = ObjectOwnership;

    fn read(props: &ContainerProps) -> Option<&ObjectOwnership> {
        props.ownership.as_ref()
    }

    fn change(value: Option<ObjectOwnership>) -> SettingChange {
        SettingChange::Ownership(value)
    }

    fn missing() -> S3Error {
        s3_error!(
            OwnershipControlsNotFoundError,
            "The bucket ownership controls were not found"
        )
    }
}

impl FromInput<PutBucketOwnershipControlsInput> for BucketOwnership {
    fn from_input(
        access: &Access,
        input: PutBucketOwnershipControlsInput,
    ) -> S3Result<ObjectOwnership> {
        let [rule] = input.ownership_controls.rules.as_slice() else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        let ownership = parse_ownership(rule.object_ownership.as_str())?;
        if ownership == ObjectOwnership::BucketOwnerEnforced
            && let Some(acl) = &access.container.settings.props.acl
            && !owner_only(acl, &access.container.account)
        {
            return Err(acl_with_enforced());
        }
        Ok(ownership)
    }
}

impl ToOutput<GetBucketOwnershipControlsOutput> for BucketOwnership {
    fn to_output(
        _: &Access,
        value: &ObjectOwnership,
    ) -> S3Result<GetBucketOwnershipControlsOutput> {
        Ok(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: s3s::dto::ObjectOwnership::from_static(name(*value)),
                }],
            }),
        })
    }
}

fn name(o: ObjectOwnership) -> &'static str {
    match o {
        ObjectOwnership::ObjectWriter => "ObjectWriter",
        ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
        ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for o in [
            ObjectOwnership::ObjectWriter,
            ObjectOwnership::BucketOwnerPreferred,
            ObjectOwnership::BucketOwnerEnforced,
        ] {
            assert_eq!(parse_ownership(name(o)).ok(), Some(o));
        }
        assert!(parse_ownership("Nobody").is_err());
    }
}
