//! The front desk's page: the check-in link as a QR code for the guest's
//! phone, the desk camera scanning the guest's QR (frames sent to this
//! hotel's server), the stay (room, nights), and the outcome in the desk's
//! language — a refusal's words are the services' own (`refusal_text`),
//! rendered into the page so the script shows them without a copy.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{Hotel, NAME};
use crate::web::{Lang, page, refusal_texts};

/// `GET /desk/`: the desk page (the device's token stays in the URL fragment, read by the script).
pub(super) async fn desk(lang: Lang) -> Response {
    let body = html! {
        p.hint { (lang.pick("客人用手机扫描下面的入住二维码，再把手机上出现的二维码对准本台摄像头。", "The guest scans the check-in code below with their phone, then holds the phone's QR code to this desk's camera.")) }
        div.columns {
            figure {
                img #check-in-code src="/desk/check-in-link.png" width="320" height="320" alt=(lang.pick("入住二维码：客人用手机扫描", "Check-in code for the guest's phone"));
                figcaption { (lang.pick("入住二维码", "Check-in code")) }
            }
            div {
                video #desk-camera muted playsinline width="480" height="360" aria-label=(lang.pick("前台摄像头画面", "Desk camera picture")) {}
                p #scan-state role="status" { (lang.pick("等待客人出示二维码…", "Waiting for the guest's QR code…")) }
            }
        }
        form #stay-form hidden {
            div.field { label for="room" { (lang.pick("房间号", "Room")) } input #room name="room" required maxlength="16" autocomplete="off"; }
            div.field { label for="nights" { (lang.pick("入住晚数", "Nights")) } input #nights name="nights" type="number" min="1" max="90" value="1" required; }
            p.hint { (lang.pick("增强版证件会同时核对客人的现场人脸：请客人看向摄像头。", "For an upgraded card the guest's live face is checked too: ask them to look at the camera.")) }
            button #check-in type="submit" { (lang.pick("办理入住", "Check in")) }
        }
        div #outcome role="alert" {}
        dl #guest hidden {
            dt { (lang.pick("姓名", "Name")) } dd #guest-name {}
            dt { (lang.pick("年满 18 岁", "Adult")) } dd #guest-adult {}
            dt { (lang.pick("本店化名", "Pseudonym at this hotel")) } dd #guest-pseudonym {}
            dt { (lang.pick("核验等级", "Level")) } dd #guest-level {}
            dt { (lang.pick("登记编号", "Register entry")) } dd #guest-entry {}
        }
        p.hint { (lang.pick("酒店不保存身份证号：它以加密形式转交公安机关，只有公安机关能打开。", "The hotel keeps no ID number: it goes to the police sealed, and only they can open it.")) }
        ul #texts hidden {
            (refusal_texts(lang))
            li data-type="checked-in" { (lang.pick("入住成功。", "Checked in.")) }
            li data-type="qr-read" { (lang.pick("已读取客人的二维码：请填写房间和晚数。", "The guest's QR code is read: type the room and the nights.")) }
            li data-type="adult-yes" { (lang.pick("是", "yes")) }
            li data-type="no-device" { (lang.pick("本页需要前台设备链接（#device=…）。", "This page needs the desk device's link (#device=…).")) }
        }
        script type="module" src="/desk/desk.js" {}
    };
    page(lang, lang.pick(NAME.0, NAME.1), lang.pick("前台", "Front desk"), "/desk/", &[], body).into_response()
}

/// `GET /desk/desk.js`.
pub(super) async fn script() -> Response {
    crate::web::script(include_str!("../../assets/desk.js"))
}

/// `GET /desk/check-in-link.png`: the check-in link as a QR code (public: the attestation is).
pub(super) async fn link_png(State(hotel): State<Arc<Hotel>>) -> Response {
    crate::web::png(hotel.check_in_png.as_ref())
}
