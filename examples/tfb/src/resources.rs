//! The JSON a `World` is shown as: `{"id":…,"randomNumber":…}`.

use foundry::http::json_resource::{Fields, JsonResource};

use crate::models::World;

/// A world with TechEmpower's field names.
pub struct WorldResource;

impl JsonResource for WorldResource {
    type Model = World;
    fn fields(world: &World, out: &mut Fields) {
        out.field("id", world.id)
            .field("randomNumber", world.random_number);
    }
}
