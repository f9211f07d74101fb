//! The railway's passenger pages, rendered with `maud` (every value escaped), no script.

use maud::{Markup, html};

use super::store::{Ticket, Train};
use crate::web::{Lang, NavLink};

/// The passenger's navigation.
pub(crate) fn nav(lang: Lang) -> [NavLink; 1] {
    [NavLink { href: "/", text: lang.pick("车票", "Tickets") }]
}

/// The landing page: what the railway learns, and the sign-in.
pub(crate) fn home(lang: Lang) -> Markup {
    html! {
        p { (lang.pick(
            "实名制购票：用你的虚拟身份证出示本铁路专属的匿名编号和姓名。铁路不会获得你的身份证号，认证机构也不会知道你的行程。",
            "Real-name tickets: show this railway's own number for you and your name from your virtual ID card. The railway never gets your ID number, and the authority never learns of your trips."
        )) }
        p { a.button href="/login" { (lang.pick("用身份证钱包登录", "Sign in with your ID wallet")) } }
    }
}

/// The request to the wallet: its link, and the way on once answered.
pub(crate) fn ask(lang: Lang, link: &str) -> Markup {
    html! {
        p { (lang.pick("请用你的身份证钱包打开此链接并同意出示：", "Open this link with your ID wallet and agree to share:")) }
        p { a.button id="wallet-link" href=(link) { (lang.pick("在钱包中打开", "Open in the wallet")) } }
        p.hint { code id="request" { (link) } }
        form method="get" action="/answered" {
            button type="submit" { (lang.pick("我已在钱包中同意，继续", "I agreed in the wallet — continue")) }
        }
    }
}

/// The wallet has not answered yet.
pub(crate) fn waiting(lang: Lang) -> Markup {
    html! {
        p role="status" { (lang.pick("钱包尚未回复。请在钱包中同意后再继续。", "The wallet has not answered yet. Agree in the wallet, then go on.")) }
        form method="get" action="/answered" {
            button type="submit" { (lang.pick("继续", "Continue")) }
        }
    }
}

/// The signed-in passenger's page: their tickets, the boarding code once
/// they hold one (`boarding_link`, the wallet's link for the railway), and the timetable.
pub(crate) fn tickets(lang: Lang, boarding_link: &str, tickets: &[Ticket], trains: &[Train]) -> Markup {
    html! {
        h2 { (lang.pick("我的车票", "My tickets")) }
        @if tickets.is_empty() { p { (lang.pick("还没有车票。", "No tickets yet.")) } }
        ul #tickets {
            @for ticket in tickets {
                li data-ticket=(ticket.id) {
                    strong { (ticket.id) } " " (ticket.train) " · " (status(lang, &ticket.status, ticket.held))
                    @if ticket.held && ticket.status == "valid" {
                        form method="post" action={ "/tickets/" (ticket.id) "/transfer" } {
                            button type="submit" { (lang.pick("转让给他人", "Transfer to someone")) }
                        }
                    }
                }
            }
        }
        @if tickets.iter().any(|t| t.held && t.status == "valid") { (boarding(lang, boarding_link)) }
        h2 { (lang.pick("购票", "Buy a ticket")) }
        table {
            thead { tr {
                th { (lang.pick("车次", "Train")) } th { (lang.pick("日期", "Date")) } th { (lang.pick("区间", "From → to")) }
                th { (lang.pick("开车", "Departs")) } th { (lang.pick("余票", "Seats")) } th { (lang.pick("购买", "Buy")) }
            } }
            tbody {
                @for train in trains {
                    tr {
                        td { (train.number) } td { (train.date) } td { (train.from) " → " (train.to) }
                        td { (train.departs) } td { (train.seats_left) }
                        td {
                            form method="post" action="/tickets" {
                                input type="hidden" name="train" value=(train.id);
                                label { (lang.pick("同行人姓名（为自己购票请留空）", "Co-traveller's name (empty for yourself)"))
                                    input type="text" name="companion" maxlength="64" autocomplete="off"; }
                                button type="submit" disabled[train.seats_left <= 0] { (lang.pick("购买", "Buy")) }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/logout" { button type="submit" { (lang.pick("退出", "Sign out")) } }
    }
}

/// How to pass the gate: the boarding code, drawn by the passenger's own
/// wallet for this railway (a fresh QR every 30 s, valid 90 s).
fn boarding(lang: Lang, link: &str) -> Markup {
    html! {
        section #boarding {
            h2 { (lang.pick("乘车码", "Boarding code")) }
            p.hint { (lang.pick(
                "进站时，用手机扫描下面的二维码（或在手机上点按钮），身份证钱包会显示本铁路的乘车码，对准闸机摄像头即可。乘车码 90 秒内有效，只能用一次，截图无效；车票不需要另外出示。",
                "At the station, scan this code with your phone (or tap the button on the phone): your ID wallet shows this railway's boarding code; hold it to the gate's camera. A boarding code is valid for 90 seconds and once: a screenshot does not pass. No other ticket is needed."
            )) }
            img #boarding-code src="/boarding-code.png" width="280" height="280" alt=(lang.pick("乘车码链接：用手机扫描", "Boarding code link for your phone"));
            p { a.button #boarding-link href=(link) { (lang.pick("在钱包中打开乘车码", "Open the boarding code in the wallet")) } }
        }
    }
}

fn status(lang: Lang, status: &str, held: bool) -> &'static str {
    match (status, held) {
        ("valid", _) => lang.pick("可用", "valid"),
        ("used", _) => lang.pick("已检票", "used"),
        _ => lang.pick("等待同行人确认", "waiting for the co-traveller"),
    }
}

/// A link to hand over: a transfer offer or a co-traveller's acceptance.
pub(crate) fn link(lang: Lang, text: (&'static str, &'static str), url: &str) -> Markup {
    html! {
        p role="status" { (lang.pick(text.0, text.1)) }
        p { code id="offer-link" { (url) } }
        p { a href="/" { (lang.pick("返回我的车票", "Back to my tickets")) } }
    }
}
