//! Keyset paging of ListAccounts: pages in uuid order (creation order, UUIDv7), cursors only
//! towards pages that exist, a total read with the page, and no account repeated or skipped
//! when accounts come and go between two pages.

use std::collections::BTreeSet;

use proto::identity::v1 as pb;

use crate::harness::{TestService, User, dual};

dual!(
    three_pages_forwards_and_backwards,
    a_page_boundary_holds_while_accounts_come_and_go,
);

fn ids(page: &pb::ListAccountsResponse) -> Vec<String> {
    page.accounts
        .iter()
        .map(|a| a.organization_uuid.clone())
        .collect()
}

/// A top-level account with five sub-accounts: six accounts in creation order.
async fn six_accounts(svc: &TestService) -> (User, Vec<String>) {
    let (admin, top) = svc.admin("Top").await;
    let mut all = vec![top];
    for i in 1..=5 {
        let parent = (i > 3).then(|| all[2].clone());
        let sub = admin
            .create(&format!("Sub {i}"), parent.as_deref())
            .await
            .unwrap();
        all.push(sub.organization_uuid);
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, all, "uuid order is creation order");
    (admin, all)
}

async fn three_pages_forwards_and_backwards(svc: TestService) {
    let (admin, all) = six_accounts(&svc).await;
    let p1 = admin.list(2, None, None).await.unwrap();
    assert_eq!(ids(&p1), all[0..2]);
    assert_eq!(
        (p1.after.as_deref(), p1.before.as_deref()),
        (Some(all[1].as_str()), None)
    );
    assert_eq!((p1.limit, p1.total), (2, 6));
    let p2 = admin.list(2, p1.after.as_deref(), None).await.unwrap();
    assert_eq!(ids(&p2), all[2..4]);
    assert_eq!(
        (p2.after.as_deref(), p2.before.as_deref()),
        (Some(all[3].as_str()), Some(all[2].as_str()))
    );
    let p3 = admin.list(2, p2.after.as_deref(), None).await.unwrap();
    assert_eq!(ids(&p3), all[4..6]);
    assert_eq!(
        (p3.after.as_deref(), p3.before.as_deref()),
        (None, Some(all[4].as_str()))
    );
    assert_eq!(p3.total, 6);

    // And back from the last page.
    let b2 = admin.list(2, None, p3.before.as_deref()).await.unwrap();
    assert_eq!(ids(&b2), all[2..4]);
    assert_eq!(
        (b2.after.as_deref(), b2.before.as_deref()),
        (Some(all[3].as_str()), Some(all[2].as_str()))
    );
    let b1 = admin.list(2, None, b2.before.as_deref()).await.unwrap();
    assert_eq!(ids(&b1), all[0..2]);
    assert_eq!(
        (b1.after.as_deref(), b1.before.as_deref()),
        (Some(all[1].as_str()), None)
    );
    assert_eq!(b1.total, 6);

    // Pages that do not divide evenly, and one page holding everything.
    let four = admin.list(4, None, None).await.unwrap();
    assert_eq!(ids(&four), all[0..4]);
    let rest = admin.list(4, four.after.as_deref(), None).await.unwrap();
    assert_eq!((ids(&rest), rest.after), (all[4..6].to_vec(), None));
    let back = admin.list(4, None, Some(&all[4])).await.unwrap();
    assert_eq!((ids(&back), back.before), (all[0..4].to_vec(), None));
    let whole = admin.list(100, None, None).await.unwrap();
    assert_eq!(
        (ids(&whole), whole.after, whole.before),
        (all.clone(), None, None)
    );
}

/// Reads every page of two forwards from the first (or backwards from the last), calling
/// `between` after the first page read; the uuids in the order read.
async fn sweep(admin: &User, forwards: bool, between: impl AsyncFnOnce()) -> Vec<String> {
    let mut seen = Vec::new();
    // The largest uuid: the page before it is the last.
    let mut cursor = (!forwards).then(|| uuid::Uuid::max().to_string());
    let mut between = Some(between);
    loop {
        let page = if forwards {
            admin.list(2, cursor.as_deref(), None).await.unwrap()
        } else {
            admin.list(2, None, cursor.as_deref()).await.unwrap()
        };
        let mut page_ids = ids(&page);
        if !forwards {
            page_ids.reverse();
        }
        seen.extend(page_ids);
        if let Some(f) = between.take() {
            f().await;
        }
        cursor = if forwards { page.after } else { page.before };
        if cursor.is_none() {
            return seen;
        }
    }
}

async fn a_page_boundary_holds_while_accounts_come_and_go(svc: TestService) {
    let (admin, all) = six_accounts(&svc).await;
    let mut added = Vec::new();

    // Forwards: after the first page, its last account (the cursor itself) is removed and an
    // account is added.
    let seen = sweep(&admin, true, async || {
        svc.remove_account(&all[1]).await;
        added.push(admin.create("New", None).await.unwrap().organization_uuid);
    })
    .await;
    let mut expected = all.clone();
    expected.extend(added.iter().cloned());
    assert_eq!(seen, expected, "no account repeated or skipped");

    // Backwards from the end: after the first page (the two last), an account of a page not yet
    // read is removed and one is added (beyond the pages still to read).
    let seen = sweep(&admin, false, async || {
        svc.remove_account(&all[3]).await;
        added.push(admin.create("Newer", None).await.unwrap().organization_uuid);
    })
    .await;
    let mut expected: Vec<String> = all
        .iter()
        .chain(&added[..1])
        .filter(|id| *id != &all[1] && *id != &all[3])
        .cloned()
        .collect();
    expected.reverse();
    assert_eq!(seen, expected, "no account repeated or skipped");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(admin.list(0, None, None).await.unwrap().total, 6);
}
