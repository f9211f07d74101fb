//! Synthetic population registries: valid GB 11643 numbers, plausible names,
//! addresses and card validity periods, for load tests and demos. Seeded, so
//! the same seed gives the same registry.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shenfen_core::{CardValidity, CitizenRecord, IdNumber};
use time::{Date, Duration, Month};

/// (division code, province, city, district).
const DIVISIONS: &[(&str, &str, &str, &str)] = &[
    ("110105", "北京市", "北京市", "朝阳区"),
    ("110108", "北京市", "北京市", "海淀区"),
    ("310115", "上海市", "上海市", "浦东新区"),
    ("440106", "广东省", "广州市", "天河区"),
    ("440305", "广东省", "深圳市", "南山区"),
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("510107", "四川省", "成都市", "武侯区"),
    ("420111", "湖北省", "武汉市", "洪山区"),
    ("320102", "江苏省", "南京市", "玄武区"),
    ("610113", "陕西省", "西安市", "雁塔区"),
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗",
];
const GIVEN_MALE: &[&str] =
    &["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "建国", "志强", "浩然", "子轩"];
const GIVEN_FEMALE: &[&str] =
    &["芳", "娜", "秀英", "敏", "静", "丽", "艳", "娟", "霞", "秀兰", "桂英", "晓梅", "雨涵", "欣怡", "梓萱"];
const STREETS: &[&str] =
    &["人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "天河路", "长安街", "滨江路"];
/// Ethnicities weighted roughly as in the census (汉 about nine in ten).
const ETHNICITIES: &[(&str, u32)] = &[
    ("汉", 910),
    ("壮", 14),
    ("回", 8),
    ("满", 8),
    ("维吾尔", 8),
    ("苗", 7),
    ("彝", 7),
    ("土家", 7),
    ("藏", 5),
    ("蒙古", 5),
];

/// Generates `count` citizens from `seed`, valid on `today`.
pub(crate) fn synthesize(count: usize, seed: u64, today: Date) -> Vec<CitizenRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if let Some(record) = one(&mut rng, today).filter(|r| used.insert(r.id_number.clone())) {
            out.push(record);
        }
    }
    out
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One citizen; `None` in the (table-excluded) case of an invalid number.
fn one(rng: &mut StdRng, today: Date) -> Option<CitizenRecord> {
    let (division, province, city, district) = *pick(rng, DIVISIONS);
    let born = Date::from_calendar_date(1940, Month::January, 1).unwrap_or(Date::MIN)
        + Duration::days(rng.random_range(0..(68 * 365)));
    let female = rng.random_bool(0.5);
    let sequence = rng.random_range(0..500u16) * 2 + u16::from(!female);
    let id_number = IdNumber::from_parts(division, born, sequence).ok()?;
    let surname = pick(rng, SURNAMES);
    let given = pick(rng, if female { GIVEN_FEMALE } else { GIVEN_MALE });
    let ethnicity = weighted(rng, ETHNICITIES);
    let street = pick(rng, STREETS);
    let validity = validity(rng, born, today);
    Some(CitizenRecord {
        sex: id_number.sex(),
        birth_date: born,
        id_number,
        name: format!("{surname}{given}"),
        ethnicity: ethnicity.into(),
        address: format!(
            "{province}{}{district}{street}{}号",
            if city == province { "" } else { city },
            rng.random_range(1..300)
        ),
        issuing_authority: format!("{city}公安局{district}分局"),
        validity,
        photo_ref: String::new(),
    })
}

fn weighted(rng: &mut StdRng, table: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, weight) in table {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    table.first().map_or("", |(item, _)| item)
}

/// Card validity by age at issue (Resident Identity Card Law, art. 5):
/// under 16 five years, 16–25 ten, 26–45 twenty, 46 and over long-term.
fn validity(rng: &mut StdRng, born: Date, today: Date) -> CardValidity {
    let earliest = born + Duration::days(30);
    let span = (today - earliest).whole_days().clamp(1, 15 * 365);
    let from = today - Duration::days(rng.random_range(0..span));
    let age = from.year() - born.year();
    let years = match age {
        ..16 => Some(5),
        16..=25 => Some(10),
        26..=45 => Some(20),
        _ => None,
    };
    let until = years.and_then(|y| {
        from.replace_year(from.year() + y)
            .ok()
            .or_else(|| (from + Duration::days(1)).replace_year(from.year() + y).ok())
    });
    CardValidity { from, until }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn synthetic_citizens_are_valid_unique_and_reproducible() {
        let today = date!(2026 - 11 - 25);
        let a = synthesize(500, 7, today);
        assert_eq!(a, synthesize(500, 7, today));
        assert_ne!(a, synthesize(500, 8, today));
        let ids: std::collections::HashSet<_> = a.iter().map(|r| r.id_number.clone()).collect();
        assert_eq!(ids.len(), 500);
        for r in &a {
            let with_photo = CitizenRecord { photo_ref: "x.jpg".into(), ..r.clone() };
            assert_eq!(with_photo.validate(), Ok(()), "{r:?}");
        }
        assert!(a.iter().filter(|r| r.ethnicity == "汉").count() > 400);
    }
}
