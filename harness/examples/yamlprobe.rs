use serde::Deserialize;
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Stage { users: u32, #[serde(default)] hold: Option<D>, #[serde(default)] ramp: Option<String> }
#[derive(Debug)]
struct D(String);
impl<'de> Deserialize<'de> for D { fn deserialize<De: serde::Deserializer<'de>>(d: De) -> Result<Self, De::Error> { let s = String::deserialize(d)?; if s.contains(' ') { Err(serde::de::Error::custom(format!("{s:?} is not a duration"))) } else { Ok(D(s)) } } }
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Load { stages: Vec<Stage> }
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Top { name: String, load: Load }
fn main() {
    for src in ["name: x\nload:\n  stages:\n    - users: 5\n      ramp: 10s\n    - users: 5\n      hold: 10 min\n",
                "name: x\nload:\n  stages:\n    - users: 5\n      rmp: 10s\n",
                "name: x\nthink: 3\nload:\n  stages: []\n",
                "name: x\nload:\n  stages:\n    - users: five\n",
                "name: x\nload:\n  stages: [\n",
                "name: x\n",
               ] {
        let de = serde_yaml_ng::Deserializer::from_str(src);
        match serde_path_to_error::deserialize::<_, Top>(de) {
            Ok(t) => println!("ok {t:?}"),
            Err(e) => { let p = e.path().to_string(); let inner = e.into_inner(); println!("path={p:?} loc={:?} disp={}", inner.location().map(|l| (l.line(), l.column())), inner); }
        }
    }
}
