<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: reflection on a fixed type name and method; the
    // request value is only an argument, HTML-encoded on output.
    void Page_Load(object sender, EventArgs e)
    {
        Type t = Type.GetType("System.Globalization.CultureInfo");
        object c = t.GetMethod("GetCultureInfo", new[] { typeof(string) }).Invoke(null, new object[] { "en-US" });
        Response.Write(Server.HtmlEncode(c + " " + Request.QueryString["q"]));
    }
</script>
