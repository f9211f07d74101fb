//! The portal's pages, rendered with `maud` (every value escaped).

use maud::{Markup, html};

use super::filing::{COMPANY_TYPES, FieldError, FilingForm};
use super::store::{Draft, FilingRecord, FilingSummary};
use crate::authority::Recheck;
use crate::web::{Lang, NavLink};

/// The citizen's navigation.
pub(crate) fn citizen_nav(lang: Lang) -> [NavLink; 2] {
    [
        NavLink { href: "/space", text: lang.pick("我的办事", "My space") },
        NavLink { href: "/filings/new", text: lang.pick("企业登记", "Register a business") },
    ]
}

/// A UTC time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

fn company_type(lang: Lang, code: &str) -> String {
    COMPANY_TYPES
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or_else(|| code.to_owned(), |(_, zh, en)| lang.pick(zh, en).to_owned())
}

/// The landing page: what the portal is, and the sign-in.
pub(crate) fn home(lang: Lang) -> Markup {
    html! {
        p { (lang.pick(
            "在这里办理政务服务，例如企业登记。用你的虚拟身份证登录：本网站只获得一个专属于它的匿名编号，不会获得你的身份证号。",
            "Government services online, such as registering a business. Sign in with your virtual ID card: this site gets only a number of its own for you, never your ID number."
        )) }
        p { a.button href="/login" { (lang.pick("用身份证登录", "Sign in with shenfen")) } }
        p.hint { a href="/clerk/" { (lang.pick("登记机关工作人员入口", "Registration clerks")) } }
    }
}

/// The citizen's space: their filings and the drafts waiting for confirmation.
pub(crate) fn space(lang: Lang, drafts: &[Draft], filings: &[FilingSummary], filed: Option<&str>) -> Markup {
    html! {
        @if let Some(reference) = filed {
            p.notice role="status" id="filed" {
                (lang.pick("已提交企业登记，受理编号 ", "Business registration filed, reference ")) strong { (reference) }
            }
        }
        section aria-labelledby="filings-title" {
            h2 id="filings-title" { (lang.pick("我的企业登记", "My business registrations")) }
            @if filings.is_empty() {
                p { (lang.pick("还没有提交过登记。", "Nothing filed yet.")) }
            } @else {
                table id="filings" {
                    thead { tr {
                        th scope="col" { (lang.pick("受理编号", "Reference")) }
                        th scope="col" { (lang.pick("企业名称", "Company")) }
                        th scope="col" { (lang.pick("类型", "Type")) }
                        th scope="col" { (lang.pick("认证等级", "Level")) }
                        th scope="col" { (lang.pick("提交时间", "Filed")) }
                    } }
                    tbody { @for f in filings { tr {
                        td { (f.id) } td { (f.company.name) } td { (company_type(lang, &f.company.kind)) }
                        td { (f.acr) } td { (when(f.filed_at)) }
                    } } }
                }
            }
        }
        @if !drafts.is_empty() {
            section aria-labelledby="drafts-title" {
                h2 id="drafts-title" { (lang.pick("待确认的草稿", "Drafts waiting for your confirmation")) }
                ul id="drafts" { @for d in drafts { li {
                    (d.company.name) " "
                    form.inline method="post" action={ "/drafts/" (d.id) "/file" } {
                        button type="submit" { (lang.pick("用增强版身份证确认并提交", "Confirm with the upgraded ID card and file")) }
                    }
                } } }
            }
        }
        p { a.button href="/filings/new" { (lang.pick("新的企业登记", "Register a business")) } }
        form method="post" action="/logout" { button.secondary type="submit" { (lang.pick("退出登录", "Sign out")) } }
    }
}

fn field_error(errors: &[FieldError], field: &str, lang: Lang) -> Option<&'static str> {
    errors.iter().find(|e| e.field == field).map(|e| lang.pick(e.zh, e.en))
}

/// A labelled text input with its error, if any.
fn input(
    lang: Lang,
    errors: &[FieldError],
    field: &'static str,
    label: &str,
    value: &str,
    hint: Option<&str>,
) -> Markup {
    let error = field_error(errors, field, lang);
    let described = match (hint.is_some(), error.is_some()) {
        (_, true) => Some(format!("{field}-error")),
        (true, false) => Some(format!("{field}-hint")),
        _ => None,
    };
    html! {
        div.field {
            label for=(field) { (label) }
            @if let Some(hint) = hint { span.hint id={ (field) "-hint" } { (hint) } }
            input id=(field) name=(field) value=(value) required aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
            @if let Some(error) = error { span.error id={ (field) "-error" } { (error) } }
        }
    }
}

/// The registration form, with the values and errors of a refused post.
pub(crate) fn filing_form(lang: Lang, form: &FilingForm, errors: &[FieldError], consent_missing: bool) -> Markup {
    let type_error = field_error(errors, "company_type", lang);
    html! {
        p { (lang.pick(
            "提交后，你将用增强版身份证（PIN 和现场人脸核验）确认你是法定代表人。",
            "After this form you confirm that you are the legal representative with the upgraded ID card (PIN and a live face)."
        )) }
        @if !errors.is_empty() || consent_missing {
            p.error role="alert" { (lang.pick("请修改标出的内容。", "Please correct the marked fields.")) }
        }
        form method="post" action="/filings" novalidate {
            (input(lang, errors, "company_name", lang.pick("企业名称", "Company name"), &form.company_name, None))
            div.field {
                label for="company_type" { (lang.pick("企业类型", "Company type")) }
                select id="company_type" name="company_type" required aria-invalid=[type_error.map(|_| "true")]
                    aria-describedby=[type_error.map(|_| "company_type-error")] {
                    option value="" { (lang.pick("请选择", "Choose")) }
                    @for (code, zh, en) in COMPANY_TYPES {
                        option value=(code) selected[form.company_type == code] { (lang.pick(zh, en)) }
                    }
                }
                @if let Some(error) = type_error { span.error id="company_type-error" { (error) } }
            }
            (input(lang, errors, "registered_capital", lang.pick("注册资本（万元）", "Registered capital (10,000 yuan)"),
                &form.registered_capital, Some(lang.pick("整数，例如 50", "A whole number, e.g. 50"))))
            (input(lang, errors, "address", lang.pick("住所", "Registered address"), &form.address, None))
            @let scope_error = field_error(errors, "business_scope", lang);
            div.field {
                label for="business_scope" { (lang.pick("经营范围", "Business scope")) }
                textarea id="business_scope" name="business_scope" rows="3" required aria-invalid=[scope_error.map(|_| "true")]
                    aria-describedby=[scope_error.map(|_| "business_scope-error")] { (form.business_scope) }
                @if let Some(error) = scope_error { span.error id="business_scope-error" { (error) } }
            }
            div.field.consent {
                input type="checkbox" id="consent" name="consent" value="yes" checked[form.consented()]
                    aria-invalid=[consent_missing.then_some("true")] aria-describedby=[consent_missing.then_some("consent-error")];
                label for="consent" { (lang.pick(
                    "我同意为本次登记向登记机关披露我的姓名和身份证号。",
                    "I agree to disclose my full name and ID number to the registration authority for this filing."
                )) }
                @if consent_missing { span.error id="consent-error" { (lang.pick("需要你的同意才能登记。", "Registration needs your consent.")) } }
            }
            button type="submit" { (lang.pick("下一步：用身份证确认", "Next: confirm with your ID card")) }
        }
    }
}

/// What the check of a stored id_token against the authority's keys found, in words.
fn token_check(lang: Lang, check: Recheck) -> &'static str {
    match check {
        Recheck::Verified => lang.pick(
            "签名有效（已用签发机构公布的密钥核验）",
            "signature valid (checked against the issuer's published keys)",
        ),
        Recheck::Failed => lang.pick(
            "签名无法核验：令牌被改动，或签发机构已不再公布其密钥",
            "signature does not verify: the token was changed, or the issuer no longer publishes its key",
        ),
        Recheck::Unknown => lang
            .pick("暂时无法核验：签发机构的密钥目前无法获取", "not checked: the issuer's keys cannot be fetched now"),
    }
}

/// The filings with their legal representatives and evidence, one section
/// each; the id_token as received is checked again against the issuer's keys.
pub(crate) fn clerk_filings(lang: Lang, clerk: &str, records: &[(FilingRecord, Recheck)]) -> Markup {
    html! {
        p { (lang.pick("工作人员：", "Clerk: ")) strong { (clerk) } " · "
            (lang.pick("每次查看都会被记录。", "Every view is recorded.")) }
        @if records.is_empty() {
            p { (lang.pick("还没有登记。", "No filings yet.")) }
        }
        div id="clerk-filings" {
            @for (r, check) in records {
                article.filing aria-labelledby={ "filing-" (r.summary.id) } {
                    h2 id={ "filing-" (r.summary.id) } { (r.summary.company.name) " · " (r.summary.id) }
                    div.columns {
                        dl {
                            dt { (lang.pick("企业类型", "Company type")) } dd { (company_type(lang, &r.summary.company.kind)) }
                            dt { (lang.pick("注册资本", "Registered capital")) } dd { (r.summary.company.capital) (lang.pick(" 万元", " × 10,000 yuan")) }
                            dt { (lang.pick("住所", "Address")) } dd { (r.summary.company.address) }
                            dt { (lang.pick("经营范围", "Business scope")) } dd { (r.summary.company.scope) }
                            dt { (lang.pick("提交时间", "Filed")) } dd { (when(r.summary.filed_at)) }
                            dt { (lang.pick("查看次数", "Clerk views")) } dd.views { (r.views) (lang.pick(" 次（含本次）", " (this one included)")) }
                        }
                        dl {
                            dt { (lang.pick("法定代表人", "Legal representative")) } dd.legal-name { (r.identity.name) }
                            dt { (lang.pick("身份证号", "ID number")) } dd.id-number { (r.identity.id_number) }
                            dt { (lang.pick("认证等级", "Level reached")) } dd.acr { (r.evidence.acr) }
                            dt { (lang.pick("认证方式", "Methods")) } dd.amr { (r.evidence.amr.join("+")) }
                            dt { (lang.pick("签发机构", "Issuer")) } dd.issuer { (r.evidence.issuer) }
                            dt { (lang.pick("认证时间", "Authenticated")) } dd { (when(r.evidence.auth_time)) }
                            dt { (lang.pick("披露内容", "Disclosed")) } dd.disclosed { (r.evidence.disclosed.join(", ")) }
                            dt { (lang.pick("身份令牌", "ID token")) } dd.token-check { (token_check(lang, *check)) }
                        }
                    }
                }
            }
        }
        form method="post" action="/clerk/logout" { button.secondary type="submit" { (lang.pick("退出登录", "Sign out")) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(when(1_795_000_000), "2026-11-18 11:06 UTC");
    }

    #[test]
    fn values_are_escaped() {
        let form = FilingForm { company_name: "<script>alert(1)</script>".into(), ..FilingForm::default() };
        let page = filing_form(Lang::En, &form, &[], false).into_string();
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
    }
}
