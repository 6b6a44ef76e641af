//! Step `backup`: upstream's backup set into the backup directory, with its manifest.

use super::{
    super::{backup, local},
    Ctx,
};
use crate::error::Result;

pub(super) async fn run(ctx: &mut Ctx) -> Result<String> {
    let sources = backup::sources(&ctx.client).await?;
    let mut collected = Vec::new();
    for s in &sources {
        ctx.status(&format!("reading {}", s.holds));
        collected.push(backup::collect(&ctx.client, s).await?);
    }
    let objects: usize = collected.iter().map(|c| c.items.len()).sum();
    if ctx.dry_run {
        for c in &collected {
            ctx.act(format!(
                "save {} ({} objects: {})",
                c.source.file,
                c.items.len(),
                c.source.holds
            ));
        }
        return Ok(format!(
            "{objects} objects in {} files would be saved to {}",
            collected.len(),
            ctx.backup_dir.display()
        ));
    }
    local::create_private_dir(&ctx.backup_dir)?;
    let identity = super::super::identity::identity(&ctx.client).await?;
    let manifest = backup::write_with(&ctx.backup_dir, &collected, &ctx.server, Some(identity))?;
    for f in &manifest.files {
        ctx.act(format!(
            "save {} ({} objects, sha256 {})",
            f.file,
            f.objects,
            &f.sha256[..12.min(f.sha256.len())]
        ));
    }
    for t in &manifest.not_served {
        ctx.note(format!("{t}: not served by this cluster, nothing to save"));
    }
    Ok(format!(
        "{objects} objects in {} files saved to {} (manifest.json)",
        manifest.files.len(),
        ctx.backup_dir.display()
    ))
}
