<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: stores a posted file under a fixed uploads
    // folder, in a subfolder the client picks inside it.
    void Page_Load(object sender, EventArgs e)
    {
        if (Request.Files.Count > 0)
        {
            HttpPostedFile f = Request.Files[0];
            string name = System.IO.Path.GetFileName(f.FileName);
            string dest = Server.MapPath("~/uploads/") + name;
            f.SaveAs(dest);
            string album = Request.Form["album"];
            f.SaveAs(Server.MapPath("~/albums/" + album + "/" + name));
        }
    }
</script>
