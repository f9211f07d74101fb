//! The gate's page (检票闸机): a registered gate device (its token in the
//! URL fragment) boards one of today's trains; its camera films the
//! passenger's boarding code, each frame read on the railway's server, and
//! the gate opens — or says why not, in the words every service uses for
//! that refusal (`refusal_text`, rendered into the page).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{NAME, Shared, date_of, store};
use crate::error::Refusal;
use crate::web::{Lang, page, refusal_texts};

/// `GET /gate/`: the gate's page, for the trains of today.
pub(super) async fn gate(State(rail): Shared, lang: Lang) -> Result<Response, Refusal> {
    let now = crate::now();
    let today = date_of(now);
    let trains = store::trains(&rail.db, &today, now).await?;
    let body = html! {
        p.hint { (lang.pick(
            "选择本闸机检票的车次；乘客把手机上的乘车码对准摄像头即可通过。",
            "Choose the train this gate boards; a passenger holds the phone's boarding code to the camera to pass."
        )) }
        div.field {
            label for="train" { (lang.pick("检票车次", "Boarding train")) }
            select #train name="train" {
                @for train in trains.iter().filter(|t| t.date == today) {
                    option value=(train.id) { (train.number) " " (train.departs) " " (train.from) " → " (train.to) }
                }
            }
        }
        video #gate-camera muted playsinline width="480" height="360" aria-label=(lang.pick("闸机摄像头画面", "Gate camera picture")) {}
        p #scan-state role="status" { (lang.pick("请出示乘车码…", "Show your boarding code…")) }
        div #outcome role="alert" {}
        dl #passenger hidden {
            dt { (lang.pick("旅客", "Passenger")) } dd #passenger-name {}
            dt { (lang.pick("车票", "Ticket")) } dd #passenger-ticket {}
        }
        ul #texts hidden {
            (refusal_texts(lang))
            li data-type="passed" { (lang.pick("请通过。", "Please go through.")) }
            li data-type="waiting" { (lang.pick("请出示乘车码…", "Show your boarding code…")) }
            li data-type="no-device" { (lang.pick("本页需要闸机设备链接（#device=…）。", "This page needs the gate device's link (#device=…).")) }
        }
        script type="module" src="/gate/gate.js" {}
    };
    Ok(page(lang, lang.pick(NAME.0, NAME.1), lang.pick("检票闸机", "Gate"), "/gate/", &[], body).into_response())
}

/// `GET /gate/gate.js`.
pub(super) async fn script() -> Response {
    crate::web::script(include_str!("../../assets/gate.js"))
}
