//! Province-level administrative divisions (GB/T 2260), the first two digits
//! of every resident ID number.

/// A province-level division: the level a verifier may learn ("resident of
/// Guangdong") without learning the city or district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Province {
    /// The two-digit code that opens the ID number.
    pub code: u8,
    /// The name in Chinese.
    pub name_zh: &'static str,
    /// The name in English.
    pub name_en: &'static str,
}

const PROVINCES: &[Province] = &[
    p(11, "北京市", "Beijing"),
    p(12, "天津市", "Tianjin"),
    p(13, "河北省", "Hebei"),
    p(14, "山西省", "Shanxi"),
    p(15, "内蒙古自治区", "Inner Mongolia"),
    p(21, "辽宁省", "Liaoning"),
    p(22, "吉林省", "Jilin"),
    p(23, "黑龙江省", "Heilongjiang"),
    p(31, "上海市", "Shanghai"),
    p(32, "江苏省", "Jiangsu"),
    p(33, "浙江省", "Zhejiang"),
    p(34, "安徽省", "Anhui"),
    p(35, "福建省", "Fujian"),
    p(36, "江西省", "Jiangxi"),
    p(37, "山东省", "Shandong"),
    p(41, "河南省", "Henan"),
    p(42, "湖北省", "Hubei"),
    p(43, "湖南省", "Hunan"),
    p(44, "广东省", "Guangdong"),
    p(45, "广西壮族自治区", "Guangxi"),
    p(46, "海南省", "Hainan"),
    p(50, "重庆市", "Chongqing"),
    p(51, "四川省", "Sichuan"),
    p(52, "贵州省", "Guizhou"),
    p(53, "云南省", "Yunnan"),
    p(54, "西藏自治区", "Tibet"),
    p(61, "陕西省", "Shaanxi"),
    p(62, "甘肃省", "Gansu"),
    p(63, "青海省", "Qinghai"),
    p(64, "宁夏回族自治区", "Ningxia"),
    p(65, "新疆维吾尔自治区", "Xinjiang"),
    p(71, "台湾省", "Taiwan"),
    p(81, "香港特别行政区", "Hong Kong"),
    p(82, "澳门特别行政区", "Macao"),
    p(83, "台湾居民居住证", "Taiwan (residence permit)"),
];

const fn p(code: u8, name_zh: &'static str, name_en: &'static str) -> Province {
    Province { code, name_zh, name_en }
}

impl Province {
    /// The province-level division with this two-digit code, if any.
    pub fn from_code(code: u8) -> Option<Province> {
        PROVINCES.iter().copied().find(|p| p.code == code)
    }

    /// Every province-level division, in code order.
    pub fn all() -> &'static [Province] {
        PROVINCES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(PROVINCES.windows(2).all(|w| w[0].code < w[1].code));
    }

    #[test]
    fn known_codes_resolve() {
        assert_eq!(Province::from_code(44).map(|p| p.name_en), Some("Guangdong"));
        assert_eq!(Province::from_code(11).map(|p| p.name_zh), Some("北京市"));
        assert_eq!(Province::from_code(10), None);
        assert_eq!(Province::from_code(99), None);
    }
}
